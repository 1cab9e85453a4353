"""Chapter 10's exercise checks accept right answers and reject the usual wrong ones."""

import itertools

import numpy as np
import pytest
import torch

from companion.exercises import ExerciseCheckFailed, ch10
from companion.ref import attention, ctc


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


# --- check_ctc_log_alpha --------------------------------------------------------------------


def log_alpha(log_probs, target, skip_repeats=False, log_space=True, start_both=True):
    """A learner's loop, written from the recursion; the flags make it wrong on purpose."""
    T = len(log_probs)
    ext = [0]
    for k in target:
        ext += [int(k), 0]
    S = len(ext)
    if not log_space:  # probabilities, logged at the end: underflows on long inputs
        y = np.exp(log_probs)
        a = np.zeros((T, S))
        a[0, 0] = y[0, 0]
        if S > 1 and start_both:
            a[0, 1] = y[0, ext[1]]
        for t in range(1, T):
            for s in range(S):
                v = a[t - 1, s] + (a[t - 1, s - 1] if s >= 1 else 0.0)
                if s >= 2 and ext[s] != 0 and (ext[s] != ext[s - 2] or skip_repeats):
                    v += a[t - 1, s - 2]
                a[t, s] = v * y[t, ext[s]]
        with np.errstate(divide="ignore"):
            return np.log(a)
    la = np.full((T, S), -np.inf)
    la[0, 0] = log_probs[0, 0]
    if S > 1 and start_both:
        la[0, 1] = log_probs[0, ext[1]]
    for t, s in itertools.product(range(1, T), range(S)):
        v = la[t - 1, s]
        if s >= 1:
            v = np.logaddexp(v, la[t - 1, s - 1])
        if s >= 2 and ext[s] != 0 and (ext[s] != ext[s - 2] or skip_repeats):
            v = np.logaddexp(v, la[t - 1, s - 2])
        la[t, s] = v + log_probs[t, ext[s]]
    return la


def torch_nll(log_probs, target):
    """Not alpha at all: a learner who returns the loss from torch."""
    lp = torch.from_numpy(log_probs)[:, None]
    return torch.nn.functional.ctc_loss(
        lp, torch.tensor([list(target) or [1]]), torch.tensor([len(lp)]),
        torch.tensor([len(target)]), reduction="none",
    ).numpy()  # fmt: skip


def test_log_alpha_check_accepts_right_answers(capsys):
    ch10.check_ctc_log_alpha(log_alpha)
    assert "All 6 cases passed." in capsys.readouterr().out
    ch10.check_ctc_log_alpha(lambda lp, target: log_alpha(lp, list(target)))


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda lp, tg: log_alpha(lp, tg, skip_repeats=True), "2 of 6 cases failed"),
        (lambda lp, tg: log_alpha(lp, tg, log_space=False), "1 of 6 cases failed"),
        (lambda lp, tg: log_alpha(lp, tg, start_both=False), "5 of 6 cases failed"),
        (lambda lp, tg: np.exp(log_alpha(lp, tg)), "6 of 6 cases failed"),
        (lambda lp, tg: ctc.log_alpha(lp, tg), "the CTC forward recursion"),
        (lambda lp, tg: ctc._log_alpha(lp, ctc.extend(tg), 0), "the CTC forward recursion"),
        (torch_nll, "torch.nn.functional.ctc_loss"),
        (not_implemented, "not implemented"),
    ],
)
def test_log_alpha_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch10.check_ctc_log_alpha(wrong)


def test_the_underflow_case_needs_log_space():
    """The long case is there for a reason: in probabilities alpha_T is exactly 0."""
    rng = np.random.default_rng(5)
    z = rng.standard_normal((400, 8))
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    assert np.isneginf(log_alpha(lp, [3, 1, 4, 1, 5] * 4, log_space=False)[-1]).all()


# --- check_collapse -------------------------------------------------------------------------


def collapse(path):
    out, prev = [], None
    for k in path:
        if k != prev and k != 0:
            out.append(int(k))
        prev = k
    return out


def drop_then_merge(path):  # the wrong order: 1 0 1 -> 1
    kept = [int(k) for k in path if k != 0]
    return [k for i, k in enumerate(kept) if i == 0 or k != kept[i - 1]]


def test_collapse_check_accepts_right_answers(capsys):
    ch10.check_collapse(collapse)
    assert "All 7 cases passed." in capsys.readouterr().out
    ch10.check_collapse(lambda path: np.array(collapse(path), dtype=np.int64))
    ch10.check_collapse(lambda path: [k for k, _ in itertools.groupby(path.tolist()) if k])


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (drop_then_merge, "4 of 7 cases failed"),
        (lambda path: [int(k) for k in path if k != 0], "FAIL"),  # no merging
        (lambda path: collapse(path)[::-1], "FAIL"),
        (lambda path: None, "list of ints"),
        (lambda path: np.array(collapse(path), dtype=float), "list of ints"),
        (lambda path: ctc.collapse(path), "the collapse rule"),
        (
            lambda path: ctc.greedy_decode(np.eye(5)[path][:, None] + 0.0, [len(path)])[0],
            "collapse",
        ),
        (not_implemented, "not implemented"),
    ],
)
def test_collapse_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch10.check_collapse(wrong)
