"""Checks for the code exercises of chapter 2 (backpropagation through time and its truncation).

Each ``check_*`` takes the learner's function, runs it on several cases whose answers come
from the companion's reference code (``companion.ref.rnn``, ``companion.ref.readout``,
``companion.tbptt``), prints one line per case and raises ``ExerciseCheckFailed`` if any
case fails. Each declares what its exercise asks to be written by hand (``by_hand``); the
truncated gradients are built from ``rnn.forward`` and ``rnn.backward``, as the exercise says.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion import tbptt
from companion.exercises.core import (
    AUTOGRAD,
    SOFTMAX,
    Case,
    by_hand,
    random_logits,
    run_cases,
    table_cases,
)
from companion.ref import readout, rnn

PARAM_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")
TRUNCATION = ("companion.tbptt.rnn_truncated_grads", "companion.tbptt.run_windows")

BACKWARD_HINT = (
    "go backwards, t = T..1, carrying dh_next (zero at t = T): dh = dh_seq[t] + dh_next; "
    "da = dh * (1 - h_t**2) (tanh' written with h_t = tanh(a_t)); dW_ih += da.T @ x[t]; "
    "dW_hh += da.T @ h_{t-1} (the state before the step: h0 when t = 1, not h_t); db += "
    "da.sum(0); dx[t] = da @ W_ih; dh_next = da @ W_hh (rows: no transpose here); "
    "dh0 is the last dh_next"
)


def _backward_case(
    name: str, T: int, B: int, D: int, H: int, seed: int, last_only: bool = False
) -> Case:
    rng = np.random.default_rng(seed)
    params = rnn.init_params(D, H, rng)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H)) * 0.5
    h_seq, _, cache = rnn.forward(x, h0, params)
    dh_seq = rng.standard_normal((T, B, H))
    if last_only:  # a loss that reads h_T alone, as for a classification at the end
        dh_seq[:-1] = 0.0
    dx, dh0, grads = rnn.backward(dh_seq, None, cache)
    expected = (dx, dh0, grads["W_ih"], grads["W_hh"], grads["b_ih"])
    hint = BACKWARD_HINT
    if T > 1:
        hint = "for T > 1 the gradient carried back from step t+1 is needed; " + hint
    return Case(
        name, (dh_seq, x, h0, h_seq, params["W_ih"], params["W_hh"]), expected, hint, rtol=1e-9
    )


@by_hand(
    "the backward pass through time",
    ["companion.ref.rnn.backward", "companion.ref.rnn_fast.backward", *TRUNCATION, *AUTOGRAD],
)
def check_rnn_backward(fn: Callable) -> None:
    """``fn(dh_seq, x, h0, h_seq, W_ih, W_hh) -> (dx, dh0, dW_ih, dW_hh, db)``: BPTT by hand.

    For the tanh Elman RNN h_t = tanh(W_ih x_t + W_hh h_{t-1} + b), with ``dh_seq[t]`` the
    gradient of the loss with respect to h_t from the output at t. ``db`` is the gradient of
    the single bias b = b_ih + b_hh, equal to each of db_ih and db_hh.

    Shapes: dh_seq and h_seq (T, B, H), x (T, B, D), h0 (B, H), W_ih (H, D), W_hh (H, H);
    dx (T, B, D), dh0 (B, H), dW_ih (H, D), dW_hh (H, H), db (H,).
    """
    cases = [
        _backward_case("one step, one example", 1, 1, 2, 3, 0),
        _backward_case("hidden size 1, one example", 6, 1, 2, 1, 1),
        _backward_case("loss reads only the last step", 8, 2, 3, 4, 2, last_only=True),
        _backward_case("T=5, B=3, D=4, H=6", 5, 3, 4, 6, 3),
        _backward_case("T=12, B=2, D=2, H=5", 12, 2, 2, 5, 4),
    ]
    run_cases("check_rnn_backward", fn, cases)


@by_hand("the softmax cross-entropy and its gradient", [*SOFTMAX, *AUTOGRAD])
def check_softmax_cross_entropy(fn: Callable) -> None:
    """``fn(logits, targets) -> (loss, dlogits)``: mean cross-entropy and its gradient.

    Shapes: logits (T, B, V), targets (T, B) integers in [0, V); ``loss`` a number (nats,
    averaged over the N = T B positions), ``dlogits`` (T, B, V) = (softmax - onehot) / N.
    """
    hint = (
        "subtract the max over the last axis before exp (large logits overflow otherwise) "
        "and take log p = z - log(sum exp z), not log(softmax), which is -inf where p "
        "underflows to 0; loss = -mean over all T*B positions of log p[target]; "
        "dlogits = (p - onehot(targets)) / N with N = T*B, the number of positions averaged"
    )

    def build(shape, scale, seed):
        logits, targets = random_logits(shape, scale, seed)
        return (logits, targets), readout.softmax_cross_entropy(logits, targets)

    rows = [
        ("uniform logits give log V", (3, 2, 5), 0.0, 0),
        ("T=4, B=3, V=6", (4, 3, 6), 1.0, 1),
        ("two classes, V=2", (5, 2, 2), 2.0, 2),
        ("one position", (1, 1, 4), 1.0, 3),
        ("large logits (needs the max trick)", (3, 2, 7), 1000.0, 4),
    ]
    run_cases("check_softmax_cross_entropy", fn, table_cases(rows, build, hint, rtol=1e-9))


@by_hand("the softmax with a temperature", SOFTMAX)
def check_temperature_probs(fn: Callable) -> None:
    """``fn(logits, temperature) -> probs``: softmax(logits / temperature) over the last axis.

    Shapes: logits (..., V); probs the same shape, each row summing to 1.
    """
    hint = (
        "divide the logits by the temperature (do not multiply), subtract the max over the "
        "last axis, exponentiate and normalise over the last axis (axis=-1)"
    )
    rng = np.random.default_rng(20)
    spread = np.stack([rng.permutation(8) * 1.5 for _ in range(6)]).reshape(3, 2, 8)
    raw = [
        ("temperature 1 is the softmax", rng.standard_normal((3, 2, 5)), 1.0),
        ("temperature 0.5 sharpens", rng.standard_normal((4, 3, 6)), 0.5),
        ("temperature 0.01: (nearly) one-hot at the argmax", spread, 0.01),
        ("temperature 100: nearly uniform", rng.standard_normal((2, 3, 5)) * 3, 100.0),
        ("one distribution, shape (V,)", rng.standard_normal(9), 0.7),
        ("large logits (needs the max trick)", rng.standard_normal((2, 2, 6)) * 1000, 1.0),
    ]
    cases = [
        Case(name, (logits, tau), readout.softmax(logits, tau), hint, rtol=1e-9, atol=1e-12)
        for name, logits, tau in raw
    ]
    run_cases("check_temperature_probs", fn, cases)


def _wrap_truncated(fn: Callable) -> Callable:
    """Call ``fn(x, h0, params, dh_seq, k)`` on a copy of ``params``; return the grads as a
    tuple in the order of ``PARAM_NAMES``; fail if it modifies ``params`` or returns no dict."""

    def wrapped(x, h0, params, dh_seq, k):
        p = {name: v.copy() for name, v in params.items()}
        grads = fn(x, h0, p, dh_seq, k)
        if any(not np.array_equal(p[n], params[n]) for n in params):
            raise ValueError("the function modified params; it must not change its inputs")
        if not isinstance(grads, dict):
            raise TypeError(f"expected a dict keyed {PARAM_NAMES}; got {type(grads).__name__}")
        missing = [n for n in PARAM_NAMES if n not in grads]
        if missing:
            raise ValueError(f"the dict of gradients is missing {missing}")
        return tuple(grads[n] for n in PARAM_NAMES)

    return wrapped


@by_hand(
    "the truncation over windows",
    [*TRUNCATION, *AUTOGRAD],
    allowed=["companion.ref.rnn.forward", "companion.ref.rnn.backward"],
)
def check_truncated_grads(fn: Callable) -> None:
    """``fn(x, h0, params, dh_seq, k) -> grads``: truncated BPTT with windows of k steps.

    The state is carried forward across windows (the forward values are those of the full
    run) and the gradient is cut at each window start; ``grads`` is a dict keyed ``W_ih``,
    ``W_hh``, ``b_ih``, ``b_hh``, the sum over windows. With k >= T it is full BPTT.
    """
    hint = (
        "for each window [s, e): run the forward from the state left by the previous window "
        "(h0 for the first; not zeros), backpropagate dh_seq[s:e] with no gradient coming "
        "from after e, drop the gradient reaching the window's initial state, and add the "
        "window's parameter gradients to the total; the last window may be shorter than k"
    )
    cases = []
    for name, (T, B, D, H), k, seed in [
        ("k=1 (no backpropagation through time at all)", (5, 2, 3, 4), 1, 0),
        ("k divides T (T=6, k=3)", (6, 2, 3, 4), 3, 1),
        ("k does not divide T (T=7, k=3)", (7, 3, 2, 5), 3, 2),
        ("k >= T is full BPTT (T=4, k=10)", (4, 2, 3, 3), 10, 3),
    ]:
        rng = np.random.default_rng(seed)
        params = rnn.init_params(D, H, rng)
        x = rng.standard_normal((T, B, D))
        h0 = rng.standard_normal((B, H)) * 0.5
        dh_seq = rng.standard_normal((T, B, H))
        grads, _ = tbptt.rnn_truncated_grads(x, h0, params, dh_seq, k)
        expected = tuple(grads[n] for n in PARAM_NAMES)
        cases.append(Case(name, (x, h0, params, dh_seq, k), expected, hint, rtol=1e-9))
    run_cases("check_truncated_grads", _wrap_truncated(fn), cases)
