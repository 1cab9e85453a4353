"""companion.models.LanguageModel: sizes, the forget bias, equal parameter counts, the stream
scorer and the sampler."""

import numpy as np
import pytest
import torch

from companion import corpus
from companion.models import (
    LanguageModel,
    count_parameters,
    hidden_size_for,
    sample,
    stream_log_probs,
)
from companion.train import train


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 2])
def test_shapes_state_and_count(cell, layers):
    torch.manual_seed(0)
    model = LanguageModel(11, 8, cell, embedding_size=5, num_layers=layers)
    ids = torch.randint(0, 11, (7, 3))
    logits, state = model(ids)
    assert logits.shape == (7, 3, 11)
    # carrying the state over a split gives the same logits as one call
    first, mid = model(ids[:4])
    second, _ = model(ids[4:], mid)
    torch.testing.assert_close(torch.cat([first, second]), logits)
    assert count_parameters(model) == LanguageModel.count(11, 8, cell, 5, layers)


def test_lstm_forget_bias_is_one_and_others_keep_torch_init():
    torch.manual_seed(0)
    lstm = LanguageModel(10, 6, "lstm", num_layers=2)
    for layer in (0, 1):
        b_ih = getattr(lstm.encoder, f"bias_ih_l{layer}")
        b_hh = getattr(lstm.encoder, f"bias_hh_l{layer}")
        torch.testing.assert_close((b_ih + b_hh)[6:12], torch.ones(6))
    torch.manual_seed(0)
    plain = LanguageModel(10, 6, "lstm", forget_bias=None)
    assert not torch.allclose((plain.encoder.bias_ih_l0 + plain.encoder.bias_hh_l0)[6:12],
                              torch.ones(6))  # fmt: skip


def test_hidden_size_for_equal_budgets():
    V, budget = 98, 50_000
    counts = {}
    for cell in ("rnn", "gru", "lstm"):
        H = hidden_size_for(budget, V, cell)
        counts[cell] = LanguageModel.count(V, H, cell)
        # no H is closer to the budget than the one returned
        for other in (H - 1, H + 1):
            assert abs(counts[cell] - budget) <= abs(LanguageModel.count(V, other, cell) - budget)
    assert max(counts.values()) < 1.02 * min(counts.values())
    assert hidden_size_for(budget, V, "rnn") > hidden_size_for(budget, V, "lstm")


def test_stream_log_probs_matches_pieces_read_alone():
    torch.manual_seed(1)
    model = LanguageModel(9, 12, "gru")
    ids = np.random.default_rng(0).integers(0, 9, size=41)
    with torch.no_grad():
        whole, _ = model(torch.as_tensor(ids[:-1, None]))
    one = stream_log_probs(model, ids, streams=1)
    np.testing.assert_allclose(one, torch.log_softmax(whole.double(), -1)[:, 0], atol=1e-6)
    assert one.shape == (40, 9)
    np.testing.assert_allclose(np.exp(one).sum(1), 1, atol=1e-9)
    # four pieces of 10 from a zero state each, and with a warm-up of 3 characters
    four = stream_log_probs(model, ids, streams=4, warmup=0)
    for b in range(4):
        with torch.no_grad():
            piece, _ = model(torch.as_tensor(ids[10 * b : 10 * b + 10, None]))
        want = torch.log_softmax(piece.double(), -1)[:, 0]
        np.testing.assert_allclose(four[10 * b : 10 * b + 10], want, atol=1e-6)
    warm = stream_log_probs(model, ids, streams=4, warmup=3)
    with torch.no_grad():
        piece, _ = model(torch.as_tensor(ids[17:30, None]))
    np.testing.assert_allclose(warm[20:30], torch.log_softmax(piece.double(), -1)[3:, 0],
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(warm[:10], four[:10], atol=1e-9)  # piece 0 from the start


def test_sample_is_reproducible_and_sharpens_with_temperature():
    vocab = corpus.Vocab(("a", "b", "c", corpus.UNK))
    torch.manual_seed(0)
    model = LanguageModel(4, 8, "lstm")
    text = sample(model, vocab, "ab", 30, 1.0, np.random.default_rng(3))
    assert len(text) == 30 and set(text) <= set(vocab.symbols)
    assert text == sample(model, vocab, "ab", 30, 1.0, np.random.default_rng(3))
    cold = sample(model, vocab, "ab", 30, 0.01, np.random.default_rng(3))
    assert len(set(cold[5:])) <= 2  # nearly greedy: a short cycle


def test_trains_with_carried_state_on_a_stream():
    torch.manual_seed(0)
    text = np.tile(np.array([0, 1, 2, 1, 0, 3]), 200)
    model = LanguageModel(4, 16, "lstm")
    rng = np.random.default_rng(0)

    def batch_fn():
        return corpus.random_windows(text, 8, 48, rng)

    def loss(logits, y):
        return torch.nn.functional.cross_entropy(logits.reshape(-1, 4), y.reshape(-1).long())

    history = train(model, batch_fn, loss, 150, lr=0.01, window=16, carry_state=True,
                    progress=False)  # fmt: skip
    assert history.final_loss(20) < 0.2 * history.loss[0]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(cell="elman"), ValueError, "cell"),
        (dict(dropout=0.2), ValueError, "num_layers"),
        (dict(dropout=1.0, num_layers=2), ValueError, "dropout"),
        (dict(embedding_size=0), ValueError, "embedding_size"),
        (dict(num_layers=1.0), TypeError, "num_layers"),
    ],
)
def test_bad_construction_is_a_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        LanguageModel(10, 4, **kwargs)


def test_bad_ids_are_a_clear_error():
    model = LanguageModel(10, 4, "rnn")
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.zeros(3, 2))
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.zeros(3, 2, 10, dtype=torch.long))
    with pytest.raises(ValueError, match="1-d integer"):
        stream_log_probs(model, np.zeros(5))


def test_hidden_size_for_small_budgets_and_bad_input():
    assert hidden_size_for(10, 98, "lstm") == 1  # below the count at H = 1
    with pytest.raises(ValueError, match="cell"):
        hidden_size_for(50_000, 98, "elman")
    with pytest.raises(TypeError, match="budget"):
        hidden_size_for(5e4, 98, "gru")
