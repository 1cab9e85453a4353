"""The chapter 1 exercise checks accept right answers and reject wrong ones."""

import numpy as np
import pytest

from companion.exercises import ExerciseCheckFailed, ch01
from companion.ref import rnn


def elman_right(x, h0, W_ih, W_hh, b):
    h, out = h0, []
    for x_t in x:
        h = np.tanh(x_t @ W_ih.T + h @ W_hh.T + b)
        out.append(h)
    return np.stack(out)


def elman_untransposed(x, h0, W_ih, W_hh, b):
    h, out = h0, []
    for x_t in x:
        h = np.tanh(x_t @ W_ih.T + h @ W_hh + b)  # W_hh not transposed
        out.append(h)
    return np.stack(out)


def elman_mutates(x, h0, W_ih, W_hh, b):
    h_seq = elman_right(x, h0, W_ih, W_hh, b)
    x[0] = 0.0  # right answer, but the caller's input is overwritten
    return h_seq


def test_elman_check_accepts_the_reference(capsys):
    ch01.check_elman_forward(elman_right)
    assert "All 4 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (elman_untransposed, "values differ"),
        (lambda x, h0, W_ih, W_hh, b: elman_right(x, h0, W_ih, W_hh, b)[-1], "shape"),
        (elman_mutates, "modified its input"),
        (lambda *a: (_ for _ in ()).throw(NotImplementedError), "not implemented"),
    ],
)
def test_elman_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch01.check_elman_forward(wrong)


def test_param_count_matches_a_torch_rnn_with_readout():
    torch = pytest.importorskip("torch")
    D, H, Q = 5, 7, 3
    rnn_module = torch.nn.RNN(D, H, bias=True)
    readout = torch.nn.Linear(H, Q)
    n = sum(p.numel() for p in rnn_module.parameters()) + sum(
        p.numel() for p in readout.parameters()
    )
    assert ch01.count_rnn_params(D, H, Q) == n - H  # torch keeps two bias vectors


def test_param_count_check(capsys):
    ch01.check_param_count(lambda D, H, Q: H * (D + H + 1) + Q * (H + 1))
    assert "All 4 cases passed." in capsys.readouterr().out
    with pytest.raises(ExerciseCheckFailed, match="FAIL"):
        ch01.check_param_count(lambda D, H, Q: H * D + H * H + Q * H)


def test_sequence_loss_check(capsys):
    def right(logits, targets):
        z = logits - logits.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        return float(-np.take_along_axis(logp, targets[..., None], -1).mean())

    def naive(logits, targets):  # overflows on large scores
        with np.errstate(all="ignore"):
            p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
            return float(-np.log(np.take_along_axis(p, targets[..., None], -1)).mean())

    def summed(logits, targets):
        return right(logits, targets) * targets.size

    ch01.check_sequence_loss(right)
    assert "All 3 cases passed." in capsys.readouterr().out
    for wrong in (naive, summed):
        with pytest.raises(ExerciseCheckFailed):
            ch01.check_sequence_loss(wrong)


def test_uniform_scores_give_log_q():
    logits = np.zeros((3, 2, 5))
    targets = np.zeros((3, 2), dtype=int)
    assert ch01._cross_entropy(logits, targets) == pytest.approx(np.log(5))


def test_reference_elman_case_uses_the_companion_rnn():
    case = ch01._elman_case("x", 3, 2, 2, 4, 0)
    x, h0, W_ih, W_hh, b = case.args
    np.testing.assert_allclose(elman_right(x, h0, W_ih, W_hh, b), case.expected)
    assert rnn.FAMILY == "rnn"


DELEGATED = "your function called {}, which is what this exercise asks you to write by hand"


def torch_count(D, H, Q):
    """The count read off torch modules built for it, less torch's second bias."""
    import torch

    modules = (torch.nn.RNN(D, H), torch.nn.Linear(H, Q))
    return sum(p.numel() for m in modules for p in m.parameters()) - H


def elman_by_the_reference(x, h0, W_ih, W_hh, b):
    params = {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b, "b_hh": np.zeros_like(b)}
    return rnn.forward(x, h0, params)[0]


@pytest.mark.parametrize(
    "check, delegating, called",
    [
        (ch01.check_elman_forward, elman_by_the_reference, "companion.ref.rnn.forward"),
        (
            ch01.check_param_count,
            ch01.count_rnn_params,
            "companion.exercises.ch01.count_rnn_params",
        ),
        (ch01.check_param_count, torch_count, "torch.nn.RNN"),
    ],
)
def test_delegating_to_the_reference_fails_and_says_why(check, delegating, called):
    with pytest.raises(ExerciseCheckFailed, match=DELEGATED.format(called)):
        check(delegating)
