"""Beam search: width 1 is greedy decoding, a width that keeps everything is exhaustive, the
length normalisation, the bookkeeping of finished and cut hypotheses, bad input."""

import itertools

import pytest
import torch

from companion import decoding
from companion.seq2seq import Seq2Seq

BOS, EOS = 1, 2


def _markov_step(V=4, seed=0):
    """A toy decoder of V tokens (0 .. V-1, EOS = 2, BOS = 1 only fed): the next-token
    distribution depends on the last token and on a hidden state (a GRU cell), so that the
    best sequence is not the greedy one."""
    gen = torch.Generator().manual_seed(seed)
    cell = torch.nn.GRUCell(V, 5)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(3 * torch.randn(p.shape, generator=gen))
    readout = 3 * torch.randn(5, V, generator=gen)

    @torch.no_grad()
    def step(tokens, state):
        h = cell(torch.nn.functional.one_hot(tokens, V).float(), state[0])
        logits = h @ readout
        logits[:, BOS] = -torch.inf  # the start symbol is never predicted
        return torch.log_softmax(logits, -1), h[None]

    return step


def _log_prob(step, seq, ended):
    state, fed, total = torch.zeros(1, 1, 5), torch.tensor([BOS]), 0.0
    for tok in list(seq) + ([EOS] if ended else []):
        lp, state = step(fed, state)
        total += float(lp[0, tok])
        fed = torch.tensor([tok])
    return total


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_wide_beam_finds_the_exhaustive_best(alpha, seed):
    step, V, max_len = _markov_step(seed=seed), 4, 4
    tokens = [t for t in range(V) if t not in (BOS, EOS)]
    best = None
    for n in range(max_len + 1):
        for seq in itertools.product(tokens, repeat=n):
            for ended in (True, False):
                length = n + 1 if ended else n
                if (ended and length > max_len) or (not ended and length != max_len):
                    continue
                score = decoding.normalised(_log_prob(step, seq, ended), length, alpha)
                if best is None or score > best[0]:
                    best = (score, seq, ended)
    found = decoding.beam_search(step, torch.zeros(1, 1, 5), BOS, EOS, V**max_len, max_len, alpha)
    top = found[0][0]
    assert (top.tokens, top.ended) == (best[1], best[2])
    assert top.score == pytest.approx(best[0], abs=1e-5)
    narrow = decoding.beam_search(step, torch.zeros(1, 1, 5), BOS, EOS, 1, max_len, alpha)
    assert narrow[0][0].score <= top.score + 1e-6


def test_width_one_is_greedy_decoding_of_the_seq2seq_model():
    torch.manual_seed(0)
    for attention in (None, "additive", "dot"):
        model = Seq2Seq(9, 8, 6, 5, attention=attention).eval()
        src = torch.randint(3, 9, (7, 6))
        lengths = torch.tensor([7, 3, 1, 5, 7, 2])
        greedy, _ = model.greedy(src, lengths, 6)
        beams = model.beam_search(src, lengths, 1, 6)
        for b, hyps in enumerate(beams):
            assert len(hyps) == 1
            row = greedy[b].tolist()
            expected = row[: row.index(EOS)] if EOS in row else row
            assert list(hyps[0].tokens) == expected
            assert hyps[0].ended == (EOS in row)


def test_hypotheses_carry_their_log_probability_and_length():
    step = _markov_step(seed=3)
    hyps = decoding.beam_search(step, torch.zeros(1, 2, 5), BOS, EOS, 3, 5, alpha=0.5)
    assert len(hyps) == 2
    for h in hyps[0]:
        assert h.length == len(h.tokens) + (1 if h.ended else 0)
        assert h.log_prob == pytest.approx(_log_prob(step, h.tokens, h.ended), abs=1e-5)
        assert h.score == pytest.approx(h.log_prob / h.length**0.5)
    assert [h.score for h in hyps[0]] == sorted((h.score for h in hyps[0]), reverse=True)


def test_greedy_is_never_better_than_the_exhaustive_search():
    state = torch.zeros(1, 1, 5)
    for seed in range(5):
        step = _markov_step(seed=seed)
        scores = [decoding.beam_search(step, state, BOS, EOS, k, 5)[0][0].score for k in (1, 4**5)]
        assert scores[1] >= scores[0] - 1e-6


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"width": 0}, ValueError, "width"),
        ({"width": 2.0}, TypeError, "width"),
        ({"max_len": 0}, ValueError, "max_len"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"state": torch.zeros(5)}, ValueError, "batch on axis 1"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = dict(step=_markov_step(), state=torch.zeros(1, 1, 5), bos=BOS, eos=EOS, width=2,
                max_len=3) | kwargs  # fmt: skip
    with pytest.raises(error, match=match):
        decoding.beam_search(**args)


def test_a_step_of_the_wrong_shape():
    def step(tokens, state):
        return torch.zeros(1, 4), state

    with pytest.raises(ValueError, match=r"\(B k, V\) = \(2, V\)"):
        decoding.beam_search(step, torch.zeros(1, 1, 5), BOS, EOS, 2, 3)
