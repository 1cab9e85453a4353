"""Chapter 10's exercise checks accept right answers and reject the usual wrong ones."""

import numpy as np
import pytest
import torch

from companion.exercises import ExerciseCheckFailed, ch10
from companion.ref import attention


def not_implemented(*args):
    raise NotImplementedError


def backward_right(dcontext, query, keys, W_q, W_k, v, jacobian=True, value_path=True):
    """A learner's backward by hand; the switches introduce the usual mistakes."""
    s = np.tanh((query @ W_q.T)[:, None] + (keys @ W_k.T).transpose(1, 0, 2))  # (B, S, A)
    e = s @ v  # (B, S)
    a = np.exp(e - e.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)
    da = np.einsum("bd,sbd->bs", dcontext, keys)
    de = a * (da - (a * da).sum(axis=1, keepdims=True)) if jacobian else a * da
    dv = np.einsum("bs,bsa->a", de, s)
    du = de[..., None] * v * (1 - s**2)  # (B, S, A)
    dW_q = du.sum(axis=1).T @ query
    dquery = du.sum(axis=1) @ W_q
    dW_k = np.einsum("bsa,sbd->ad", du, keys)
    dkeys = du.transpose(1, 0, 2) @ W_k
    if value_path:
        dkeys = dkeys + a.T[..., None] * dcontext
    return dquery, dkeys, dW_q, dW_k, dv


def backward_by_the_reference(dcontext, query, keys, W_q, W_k, v):
    params = {"W_q": W_q, "W_k": W_k, "v": v}
    _, _, cache = attention.additive_forward(query, keys, params)
    dquery, dkeys, g = attention.additive_backward(dcontext, cache)
    return dquery, dkeys, g["W_q"], g["W_k"], g["v"]


def backward_by_autograd(dcontext, query, keys, W_q, W_k, v):
    t = [torch.tensor(x, requires_grad=True) for x in (query, keys, W_q, W_k, v)]
    q, k, Wq, Wk, va = t
    s = torch.tanh((q @ Wq.T)[:, None] + (k @ Wk.T).transpose(0, 1))
    a = torch.softmax(s @ va, dim=1)
    c = torch.einsum("bs,sbd->bd", a, k)
    (c * torch.from_numpy(dcontext)).sum().backward()
    dq, dk, dWq, dWk, dv = (x.grad.numpy() for x in t)
    return dq, dk, dWq, dWk, dv


def backward_in_place(dcontext, query, keys, W_q, W_k, v):
    out = backward_right(dcontext, query, keys, W_q, W_k, v)
    keys *= 0.0
    return out


def test_the_check_accepts_the_right_answer(capsys):
    ch10.check_additive_backward(backward_right)
    assert "All 5 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda *a: backward_right(*a, jacobian=False), "5 of 5 cases failed"),  # de = a * da
        (lambda *a: backward_right(*a, value_path=False), "5 of 5 cases failed"),
        (lambda *a: backward_right(*a)[:4], "expected a tuple of 5 values"),
        (lambda *a: (*backward_right(*a)[:3], backward_right(*a)[3].T, a[-1]), "item 3"),
        (backward_in_place, "modified its input argument 2"),
        (not_implemented, "not implemented"),
    ],
)
def test_the_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch10.check_additive_backward(wrong)


def test_the_missing_subtraction_fails_with_the_hint():
    with pytest.raises(ExerciseCheckFailed, match="keep the subtracted sum"):
        ch10.check_additive_backward(lambda *a: backward_right(*a, jacobian=False))


DELEGATED = "your function called {}, which is what this exercise asks you to write by hand"


@pytest.mark.parametrize(
    "delegating, called",
    [
        (backward_by_the_reference, "companion.ref.attention.additive_backward"),
        (backward_by_autograd, "torch.Tensor.backward"),
    ],
)
def test_delegating_fails_and_says_why(delegating, called):
    with pytest.raises(ExerciseCheckFailed, match=DELEGATED.format(called)):
        ch10.check_additive_backward(delegating)


def test_the_forward_may_be_called():
    def with_the_forward(dcontext, query, keys, W_q, W_k, v):
        attention.additive_forward(query, keys, {"W_q": W_q, "W_k": W_k, "v": v})
        return backward_right(dcontext, query, keys, W_q, W_k, v)

    ch10.check_additive_backward(with_the_forward)
    assert (
        "companion.ref.attention.additive_forward" in ch10.check_additive_backward.by_hand.allowed
    )


# --- the masked loss ----------------------------------------------------------------------
def masked_loss(logits, y_out, pad, divide_by_count=True):
    z = logits - logits.max(-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p, y_out[..., None], axis=-1)[..., 0]
    real = y_out != pad
    return -picked[real].sum() / (real.sum() if divide_by_count else real.size)


def test_masked_loss_right_answer_passes():
    ch10.check_masked_loss(masked_loss)


def test_masked_loss_over_all_positions_fails():
    with pytest.raises(ExerciseCheckFailed):
        ch10.check_masked_loss(lambda *a: masked_loss(*a, divide_by_count=False))


def test_masked_loss_delegating_to_torch_fails():
    def via_torch(logits, y_out, pad):
        t = torch.from_numpy(logits)
        y = torch.from_numpy(y_out)
        per = torch.nn.functional.cross_entropy(t.flatten(0, 1), y.flatten(), reduction="none")
        return float(per[y.flatten() != pad].mean())

    with pytest.raises(ExerciseCheckFailed, match="cross_entropy"):
        ch10.check_masked_loss(via_torch)


# --- one step of beam search --------------------------------------------------------------
def top_candidates(scores, log_probs, n):
    total = (scores[:, None] + log_probs).ravel()
    best = np.argsort(-total, kind="stable")[:n]
    return best // log_probs.shape[1], best % log_probs.shape[1], total[best]


def test_top_candidates_right_answer_passes():
    ch10.check_top_candidates(top_candidates)


def test_top_candidates_best_per_beam_only_fails():
    def per_beam(scores, log_probs, n):  # the usual mistake: the best token of each beam
        tokens = log_probs.argmax(1)
        totals = scores + log_probs.max(1)
        order = np.argsort(-totals, kind="stable")[:n]
        return order, tokens[order], totals[order]

    with pytest.raises(ExerciseCheckFailed):
        ch10.check_top_candidates(per_beam)


def test_top_candidates_ignoring_the_scores_fails():
    with pytest.raises(ExerciseCheckFailed):
        ch10.check_top_candidates(lambda s, lp, n: top_candidates(np.zeros_like(s), lp, n))
