"""The torch CTC recogniser: shapes, normalised log-probabilities, lengths, the loss wrapper
against the numpy reference, greedy decoding, the label error rate, and bad input."""

import numpy as np
import pytest
import torch

from companion import ctc, tones
from companion.ref import ctc as ref_ctc


def model_and_batch(seed=0, B=5, H=8, num_layers=1):
    torch.manual_seed(seed)
    model = ctc.CTCRecognizer(tones.N_BANDS, H, tones.N_CLASSES, num_layers=num_layers)
    x, input_lengths, targets, target_lengths = tones.batch(np.random.default_rng(seed), B, 1, 4)
    return model, torch.from_numpy(x), torch.from_numpy(input_lengths), targets, target_lengths


@pytest.mark.parametrize("num_layers", [1, 2])
def test_shapes_and_normalised_log_probs(num_layers):
    model, x, lengths, _, _ = model_and_batch(num_layers=num_layers)
    log_probs = model(x, lengths)
    assert log_probs.shape == (x.shape[0], x.shape[1], tones.N_CLASSES)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(x.shape[:2]))
    assert len(model.encoder.layers) == 2 * num_layers  # bidirectional


def test_a_sequence_is_scored_as_it_would_be_alone():
    """With lengths, the padding after a short sequence never reaches its real frames."""
    model, x, lengths, _, _ = model_and_batch(B=4)
    log_probs = model(x, lengths)
    b = int(lengths.argmin())
    alone = model(x[: lengths[b], b : b + 1], lengths[b : b + 1])
    torch.testing.assert_close(log_probs[: lengths[b], b : b + 1], alone)


def test_ctc_loss_matches_the_numpy_reference():
    model, x, lengths, targets, target_lengths = model_and_batch(B=6)
    log_probs = model.double()(x.double(), lengths)
    args = (torch.from_numpy(targets), lengths, torch.from_numpy(target_lengths))
    for reduction in ("none", "sum", "mean"):
        ours = ctc.ctc_loss(log_probs, *args, reduction=reduction).detach().numpy()
        ref = ref_ctc.loss(
            log_probs.detach().numpy(), targets, lengths.numpy(), target_lengths, 0, reduction
        )
        np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_ctc_loss_gives_inf_for_a_target_too_long():
    log_probs = torch.zeros(3, 1, 4).log_softmax(-1)
    out = ctc.ctc_loss(log_probs, torch.tensor([[1, 1]]), torch.tensor([2]), torch.tensor([2]))
    assert torch.isinf(out)


def test_the_loss_trains_the_model():
    model, x, lengths, targets, target_lengths = model_and_batch(B=4, H=16)
    args = (torch.from_numpy(targets), lengths, torch.from_numpy(target_lengths))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = ctc.ctc_loss(model(x, lengths), *args)
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < 0.7 * first


def test_greedy_decode_agrees_with_the_reference():
    model, x, lengths, _, _ = model_and_batch()
    log_probs = model(x, lengths)
    expected = ref_ctc.greedy_decode(log_probs.detach().numpy(), lengths.numpy())
    assert ctc.greedy_decode(log_probs, lengths) == expected
    assert ctc.greedy_decode(log_probs, lengths.numpy()) == expected
    peaked = torch.log_softmax(10 * torch.eye(4)[torch.tensor([[1], [1], [0], [1], [3]])], -1)
    assert ctc.greedy_decode(peaked, torch.tensor([5])) == [[1, 1, 3]]
    assert ctc.greedy_decode(peaked, torch.tensor([2])) == [[1]]


@pytest.mark.parametrize(
    "hyps, refs, expected",
    [
        ([[1, 2, 3]], [[1, 2, 3]], 0.0),
        ([[1, 3]], [[1, 2, 3]], 1 / 3),  # one deletion
        ([[1, 2, 2, 3]], [[1, 2, 3]], 1 / 3),  # one insertion
        ([[4, 2, 3], [5]], [[1, 2, 3], [5]], 1 / 4),  # one substitution over 4 labels
        ([[], [1, 1]], [[2, 2], [1]], 3 / 3),  # 2 deletions + 1 insertion
        ([[7, 7, 7, 7]], [[1]], 4.0),  # can exceed 1
        ([np.array([3, 1])], [np.array([1, 3])], 1.0),  # order matters: two substitutions
    ],
)
def test_label_error_rate(hyps, refs, expected):
    assert ctc.label_error_rate(hyps, refs) == pytest.approx(expected)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: ctc.label_error_rate([[1]], [[1], [2]]), ValueError, "pair up"),
        (lambda: ctc.label_error_rate([[]], [[]]), ValueError, "undefined"),
        (lambda: ctc.label_error_rate("12", [[1]]), TypeError, "list of label sequences"),
        (lambda: ctc.label_error_rate([[1.5]], [[1]]), TypeError, r"hypotheses\[0\]"),
        (lambda: ctc.label_error_rate([[1]], [[[1]]]), TypeError, r"references\[0\]"),
        (lambda: ctc.greedy_decode(np.zeros((2, 1, 3)), [2]), TypeError, "torch.Tensor"),
        (lambda: ctc.CTCRecognizer(16, 8, 1), ValueError, "num_classes"),
        (lambda: ctc.CTCRecognizer(16, 0, 11), ValueError, "hidden_size"),
        (lambda: ctc.CTCRecognizer(16, 8, 11.0), TypeError, "num_classes"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_bad_lengths_and_input_to_the_model():
    model, x, lengths, _, _ = model_and_batch()
    with pytest.raises(ValueError, match="lengths"):
        model(x, lengths + x.shape[0])
    with pytest.raises(ValueError, match="shape"):
        model(x, lengths[:2])
    with pytest.raises(TypeError, match="dtype"):
        model(x.double(), lengths)
    with pytest.raises(ValueError, match="time-major"):
        model(x[:, :, :3], lengths)
