"""The encoder-decoder: padding never changes a real position, teacher forcing equals the step
by step loop, the masked loss equals the loss summed sequence by sequence, bad input."""

import pytest
import torch

from companion import tasks
from companion.numerals import BOS, EOS, PAD
from companion.seq2seq import Decoder, Seq2Seq

ATTENTION = [None, "additive", "dot"]
SV, TV = 11, 9


def _model(attention, seed=0):
    torch.manual_seed(seed)
    return Seq2Seq(SV, TV, 6, 5, attention=attention).double().eval()


def _batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([6, 2, 1, 4])
    src = torch.randint(3, SV, (6, 4), generator=gen)
    src[torch.arange(6)[:, None] >= lengths] = PAD
    tgt_lengths = torch.tensor([3, 5, 1, 2])
    y = torch.randint(3, TV, (6, 4), generator=gen)
    y_out = torch.where(torch.arange(6)[:, None] < tgt_lengths, y, PAD)
    y_out[tgt_lengths, torch.arange(4)] = EOS
    y_in = torch.cat([torch.full((1, 4), BOS), y_out[:-1]])
    y_in[y_in == EOS] = PAD
    return src, lengths, y_in, y_out


@pytest.mark.parametrize("attention", ATTENTION)
def test_shapes_and_weights(attention):
    model = _model(attention)
    src, lengths, y_in, _ = _batch()
    logits = model(src, lengths, y_in)
    assert logits.shape == (6, 4, TV)
    if attention is None:
        assert model.weights is None
    else:
        assert model.weights.shape == (6, 4, 6)
        torch.testing.assert_close(model.weights.sum(-1), torch.ones(6, 4, dtype=torch.float64))
        assert (model.weights[:, 1, 2:] == 0).all() and (model.weights[:, 2, 1:] == 0).all()


@pytest.mark.parametrize("attention", ATTENTION)
def test_padding_never_changes_a_real_position(attention):
    model = _model(attention)
    src, lengths, y_in, y_out = _batch()
    batched = model(src, lengths, y_in)
    for b in range(4):
        n, m = int(lengths[b]), int((y_out[:, b] != PAD).sum())
        alone = model(src[:n, b : b + 1], lengths[b : b + 1], y_in[:m, b : b + 1])
        torch.testing.assert_close(batched[:m, b : b + 1], alone, rtol=0, atol=1e-12)


@pytest.mark.parametrize("attention", ATTENTION)
def test_the_step_loop_equals_teacher_forcing(attention):
    model = _model(attention)
    src, lengths, y_in, _ = _batch()
    forced = model(src, lengths, y_in)
    weights = model.weights
    torch.manual_seed(1)
    looped = model(src, lengths, y_in, sampling=1e-12)  # the loop, never sampling
    torch.testing.assert_close(looped, forced, rtol=0, atol=1e-12)
    if attention is not None:
        torch.testing.assert_close(model.weights, weights, rtol=0, atol=1e-12)
    torch.manual_seed(1)
    own = model(src, lengths, y_in, sampling=1.0)  # always the model's own samples
    torch.testing.assert_close(own[0], forced[0], rtol=0, atol=1e-12)  # BOS is always fed
    assert (own[1:] - forced[1:]).abs().max() > 1e-3


def test_the_masked_loss_is_the_loss_summed_sequence_by_sequence():
    model = _model("dot")
    src, lengths, y_in, y_out = _batch()
    logits = model(src, lengths, y_in)
    batched = tasks.masked_cross_entropy(logits, y_out, y_out != PAD)
    total, count = 0.0, 0
    for b in range(4):
        m = int((y_out[:, b] != PAD).sum())
        total += torch.nn.functional.cross_entropy(logits[:m, b], y_out[:m, b], reduction="sum")
        count += m
    torch.testing.assert_close(batched, total / count, rtol=1e-14, atol=0)


def test_greedy_decoding_stops_at_the_end_symbol():
    model = _model("additive")
    src, lengths, _, _ = _batch()
    tokens, weights = model.greedy(src, lengths, 7)
    assert tokens.shape == (4, 7) and weights.shape[1:] == (4, 6)
    for row in tokens.tolist():
        if EOS in row:
            assert all(t == PAD for t in row[row.index(EOS) + 1 :])
        assert BOS not in row


def test_training_learns_to_copy_in_a_few_hundred_steps():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = Seq2Seq(8, 8, 8, 16, attention="dot")
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        y = torch.randint(3, 8, (4, 16), generator=gen)
        y_out = torch.cat([y, torch.full((1, 16), EOS)])
        y_in = torch.cat([torch.full((1, 16), BOS), y])
        loss = tasks.masked_cross_entropy(model(y, torch.full((16,), 4), y_in), y_out, y_out > 0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    tokens, _ = model.eval().greedy(y, torch.full((16,), 4), 6)
    assert (tokens[:, :4] == y.T).float().mean() > 0.95


@pytest.mark.parametrize(
    "change,error,match",
    [
        ({"lengths": torch.tensor([6, 0, 1, 4])}, ValueError, r"\[1, T\]"),
        ({"src": torch.full((6, 4), SV)}, ValueError, r"ids in \[0, 11\)"),
        ({"src": torch.zeros(6, 4)}, TypeError, "integer"),
        ({"src": torch.zeros(0, 4, dtype=torch.long)}, ValueError, "T >= 1"),
        ({"y_in": torch.ones(3, 2, dtype=torch.long)}, ValueError, "B = 4"),
        ({"sampling": 1.5}, ValueError, "sampling"),
    ],
)
def test_bad_input(change, error, match):
    model = _model(None)
    src, lengths, y_in, _ = _batch()
    args = {"src": src, "lengths": lengths, "y_in": y_in} | change
    with pytest.raises(error, match=match):
        model(**args)


def test_bad_construction():
    with pytest.raises(ValueError, match="attention"):
        Seq2Seq(SV, TV, attention="multiplicative")
    with pytest.raises(ValueError, match=r"hidden size \(8\) to equal the memory size \(10\)"):
        Decoder(TV, 4, 8, 10, attention="dot")
    with pytest.raises(ValueError, match="src_vocab"):
        Seq2Seq(2, TV)
