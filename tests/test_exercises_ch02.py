"""The chapter 2 exercise checks accept right answers and reject wrong ones."""

import numpy as np
import pytest

from companion import tbptt
from companion.exercises import ExerciseCheckFailed, ch02
from companion.ref import rnn


def not_implemented(*args):
    raise NotImplementedError


# --- check_rnn_backward -------------------------------------------------------------------


def backward_right(dh_seq, x, h0, h_seq, W_ih, W_hh, carry=True, use_h_t=False, W_T=False):
    """A learner's BPTT; the keyword switches introduce the usual mistakes."""
    T = x.shape[0]
    dx, dW_ih, dW_hh = np.zeros_like(x), np.zeros_like(W_ih), np.zeros_like(W_hh)
    db = np.zeros(W_hh.shape[0])
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = h_seq[t] if use_h_t else (h_seq[t - 1] if t > 0 else h0)
        dh = dh_seq[t] + (dh_next if carry else 0.0)
        da = dh * (1 - h_seq[t] ** 2)
        dW_ih += da.T @ x[t]
        dW_hh += da.T @ h_prev
        db += da.sum(axis=0)
        dx[t] = da @ W_ih
        dh_next = da @ (W_hh.T if W_T else W_hh)
    return dx, dh_next, dW_ih, dW_hh, db


def backward_mutates(dh_seq, x, h0, h_seq, W_ih, W_hh):
    """Right values, but accumulates the carried gradient into the caller's dh_seq."""
    out = backward_right(dh_seq.copy(), x, h0, h_seq, W_ih, W_hh)
    dh_seq[-1] += 1.0
    return out


def backward_from_the_reference(dh_seq, x, h0, h_seq, W_ih, W_hh):
    H = W_hh.shape[0]
    params = {"W_ih": W_ih, "W_hh": W_hh, "b_ih": np.zeros(H), "b_hh": np.zeros(H)}
    # The bias is not an argument: it enters only through h_seq. rnn.backward reads the
    # pre-activations only through tanh'(a) = 1 - tanh(a)^2, so a = atanh(h_t) is all it needs.
    _, _, cache = rnn.forward(x, h0, params)
    cache["a_seq"] = np.arctanh(h_seq)
    cache["h_seq"] = h_seq
    dx, dh0, grads = rnn.backward(dh_seq, None, cache)
    return dx, dh0, grads["W_ih"], grads["W_hh"], grads["b_ih"]


def backward_by_autograd(dh_seq, x, h0, h_seq, W_ih, W_hh):
    """The forward written in torch, the backward left to autograd."""
    import torch

    x, h0, W_ih, W_hh, h_seq, dh_seq = map(torch.tensor, (x, h0, W_ih, W_hh, h_seq, dh_seq))
    b = (torch.atanh(h_seq[0]) - x[0] @ W_ih.T - h0 @ W_hh.T)[0]  # the bias, from h_1
    for leaf in (x, h0, W_ih, W_hh, b):
        leaf.requires_grad_(True)
    h, hs = h0, []
    for x_t in x:
        h = torch.tanh(x_t @ W_ih.T + h @ W_hh.T + b)
        hs.append(h)
    (torch.stack(hs) * dh_seq).sum().backward()
    return tuple(v.grad.numpy() for v in (x, h0, W_ih, W_hh, b))


def test_rnn_backward_check_accepts_a_right_answer(capsys):
    ch02.check_rnn_backward(backward_right)
    assert "All 5 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "delegating, called",
    [
        (backward_from_the_reference, "companion.ref.rnn.backward"),
        (backward_by_autograd, "torch.Tensor.backward"),
    ],
)
def test_rnn_backward_by_the_reference_or_by_autograd_fails(delegating, called):
    with pytest.raises(ExerciseCheckFailed) as info:
        ch02.check_rnn_backward(delegating)
    first_line = str(info.value).splitlines()[0]
    assert first_line == (
        f"your function called {called}, which is what this exercise asks you to write by "
        "hand (the backward pass through time)"
    )
    assert "5 of 5 cases failed" in str(info.value)


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda *a: backward_right(*a, W_T=True), "values differ"),
        (lambda *a: backward_right(*a, carry=False), "gradient carried back from step t"),
        (lambda *a: backward_right(*a, use_h_t=True), "values differ"),
        (backward_mutates, "modified its input"),
        (lambda *a: backward_right(*a)[:4], "expected a tuple of 5 values"),
        (not_implemented, "not implemented"),
    ],
)
def test_rnn_backward_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch02.check_rnn_backward(wrong)


def test_forgetting_the_carry_passes_only_the_one_step_case():
    with pytest.raises(ExerciseCheckFailed) as info:
        ch02.check_rnn_backward(lambda *a: backward_right(*a, carry=False))
    report = str(info.value)
    assert "pass  one step, one example" in report
    assert "4 of 5 cases failed" in report


def test_h_t_for_h_prev_fails_only_dW_hh():
    with pytest.raises(ExerciseCheckFailed) as info:
        ch02.check_rnn_backward(lambda *a: backward_right(*a, use_h_t=True))
    assert "item 3: values differ" in str(info.value)  # dW_hh is the fourth value
    assert "5 of 5 cases failed" in str(info.value)


# --- check_softmax_cross_entropy ----------------------------------------------------------


def xent_right(logits, targets):
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))  # not log(p): p may underflow to 0
    loss = -np.take_along_axis(logp, targets[..., None], -1).mean()
    onehot = np.eye(logits.shape[-1])[targets]
    return float(loss), (np.exp(logp) - onehot) / targets.size


def xent_log_of_p(logits, targets):  # max subtracted, but log(p) is -inf where p underflows
    z = logits - logits.max(-1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    with np.errstate(divide="ignore"):
        loss = -np.log(np.take_along_axis(p, targets[..., None], -1)).mean()
    return float(loss), (p - np.eye(logits.shape[-1])[targets]) / targets.size


def xent_naive(logits, targets):  # no max subtraction: exp(1000) overflows
    with np.errstate(all="ignore"):
        p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        loss = -np.log(np.take_along_axis(p, targets[..., None], -1)).mean()
    return float(loss), (p - np.eye(logits.shape[-1])[targets]) / targets.size


def xent_not_averaged(logits, targets):
    loss, dlogits = xent_right(logits, targets)
    return loss, dlogits * targets.size


def test_softmax_cross_entropy_check_accepts_the_right_answer(capsys):
    ch02.check_softmax_cross_entropy(xent_right)
    assert "All 5 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [xent_naive, xent_log_of_p])
def test_unstable_softmax_fails_only_the_large_logit_case(wrong):
    with pytest.raises(ExerciseCheckFailed) as info:
        ch02.check_softmax_cross_entropy(wrong)
    report = str(info.value)
    assert "1 of 5 cases failed" in report
    assert "FAIL  large logits (needs the max trick)" in report


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (xent_not_averaged, "item 1: values differ"),
        (lambda lo, ta: xent_right(lo, ta)[0], "expected a tuple of 2 values"),
        (not_implemented, "not implemented"),
    ],
)
def test_softmax_cross_entropy_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch02.check_softmax_cross_entropy(wrong)


# --- check_temperature_probs --------------------------------------------------------------


def temperature_right(logits, temperature):
    z = logits / temperature
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def temperature_naive(logits, temperature):
    with np.errstate(all="ignore"):
        e = np.exp(logits / temperature)
        return e / e.sum(-1, keepdims=True)


def test_temperature_check_accepts_the_right_answer(capsys):
    ch02.check_temperature_probs(temperature_right)
    assert "All 6 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda lo, tau: temperature_right(lo * tau, 1.0), "FAIL  temperature 100"),
        (lambda lo, tau: temperature_right(lo, 1.0), "FAIL  temperature 0.01"),
        (temperature_naive, "FAIL  large logits"),
        (lambda lo, tau: np.exp(lo / tau) / np.exp(lo / tau).sum(0), "values differ"),
        (not_implemented, "not implemented"),
    ],
)
def test_temperature_check_rejects_wrong_answers(wrong, reason):
    with np.errstate(all="ignore"), pytest.raises(ExerciseCheckFailed, match=reason):
        ch02.check_temperature_probs(wrong)


# --- check_truncated_grads ----------------------------------------------------------------


def truncated_right(x, h0, params, dh_seq, k, carry=True):
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    b = params["b_ih"] + params["b_hh"]
    T = x.shape[0]
    grads = {n: np.zeros_like(v) for n, v in params.items()}
    h = h0
    for s in range(0, T, k):
        e = min(s + k, T)
        h_start = h if carry else np.zeros_like(h0)
        hs, h = [], h_start
        for t in range(s, e):
            h = np.tanh(x[t] @ W_ih.T + h @ W_hh.T + b)
            hs.append(h)
        dh_next = np.zeros_like(h)
        for t in reversed(range(s, e)):
            h_prev = hs[t - s - 1] if t > s else h_start
            da = (dh_seq[t] + dh_next) * (1 - hs[t - s] ** 2)
            grads["W_ih"] += da.T @ x[t]
            grads["W_hh"] += da.T @ h_prev
            grads["b_ih"] += da.sum(0)
            dh_next = da @ W_hh
    grads["b_hh"] = grads["b_ih"].copy()
    return grads


def truncated_mutates_params(x, h0, params, dh_seq, k):
    grads = truncated_right(x, h0, params, dh_seq, k)
    params["W_hh"] -= 0.1 * grads["W_hh"]  # an update, in the checker's arrays
    return grads


def truncated_by_the_cell(x, h0, params, dh_seq, k):
    """The book's solution: rnn.forward and rnn.backward per window, as the exercise says."""
    total = {name: np.zeros_like(v) for name, v in params.items()}
    h = h0
    for start in range(0, len(x), k):
        _, h_end, cache = rnn.forward(x[start : start + k], h, params)
        _, _, g = rnn.backward(dh_seq[start : start + k], None, cache)
        for name in total:
            total[name] += g[name]
        h = h_end
    return total


@pytest.mark.parametrize("right", [truncated_right, truncated_by_the_cell])
def test_truncated_grads_check_accepts_right_answers(capsys, right):
    ch02.check_truncated_grads(right)
    assert "All 4 cases passed." in capsys.readouterr().out


def test_truncated_grads_by_the_companions_truncation_fails():
    declaration = ch02.check_truncated_grads.by_hand
    assert "companion.ref.rnn.backward" in declaration.allowed
    with pytest.raises(ExerciseCheckFailed, match="called companion.tbptt.rnn_truncated_grads"):
        ch02.check_truncated_grads(lambda *a: tbptt.rnn_truncated_grads(*a)[0])


def test_truncated_grads_without_carrying_the_state_fail():
    with pytest.raises(ExerciseCheckFailed) as info:
        ch02.check_truncated_grads(lambda *a: truncated_right(*a, carry=False))
    report = str(info.value)
    assert "4 of 4 cases failed" in report  # every window, the first too, starts from zeros
    assert "not zeros" in report  # the hint


def full_bptt(x, h0, params, dh_seq, k):
    return truncated_right(x, h0, params, dh_seq, x.shape[0])


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (full_bptt, "FAIL  k=1"),
        (truncated_mutates_params, "modified params"),
        (lambda *a: list(truncated_right(*a).values()), "expected a dict keyed"),
        (lambda *a: {"W_ih": truncated_right(*a)["W_ih"]}, "missing"),
        (not_implemented, "not implemented"),
    ],
)
def test_truncated_grads_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch02.check_truncated_grads(wrong)
