"""Checks for the code exercises of chapter 8 (performance).

Each ``check_*`` takes the learner's function, runs it on several cases whose answers come
from the companion's reference code (``companion.ref`` and ``companion.bench``), prints one
line per case and raises ``ExerciseCheckFailed`` if any case fails. Each declares what its
exercise asks to be written by hand (``by_hand``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion import bench
from companion.exercises.core import (
    AUTOGRAD,
    Case,
    by_hand,
    reference_cases,
    run_cases,
    table_cases,
)
from companion.ref.gru_fast import factors as gru_factors


def _exact_sigmoid(a: np.ndarray) -> np.ndarray:
    """sigma(a) in float64 by the branch that never overflows, then cast to a's dtype."""
    a64 = a.astype(np.float64)
    e = np.exp(-np.abs(a64))
    s = np.where(a64 >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return s.astype(a.dtype)


@by_hand(
    "the sigmoid",
    [
        "companion.exercises.ch08._exact_sigmoid",
        "companion.ref.activations.sigmoid",
        "torch.sigmoid",
        "torch.special.expit",
        "torch.nn.functional.sigmoid",
    ],
)
def check_stable_sigmoid(fn: Callable) -> None:
    """``fn(a) -> sigma(a)``, element-wise, of the same shape and dtype as ``a``, for float32 and
    float64 arrays, with no overflow: the check runs ``fn`` with numpy's floating-point
    warnings turned into errors, so 1 / (1 + exp(-a)) fails on a = -100 in float32."""
    hint = (
        "exp(-a) overflows for a below about -88 in float32 (-709 in float64); use "
        "sigma(a) = 0.5 * tanh(0.5 * a) + 0.5, or exp(-|a|) with a branch on the sign; keep "
        "the input's dtype (0.5 is a Python float, which does not promote a float32 array)"
    )

    def strict(a):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out = fn(a)
        if isinstance(out, np.ndarray) and out.dtype != a.dtype:
            raise TypeError(f"returned dtype {out.dtype} for a {a.dtype} input")
        return out

    rng = np.random.default_rng(0)
    inputs = [
        ("float64, moderate values", rng.standard_normal(7) * 3),
        ("float32, moderate values", (rng.standard_normal(7) * 3).astype(np.float32)),
        ("float32, a = -100 .. 100", np.array([-100, -30, -1, 0, 1, 30, 100], dtype=np.float32)),
        ("float64, a = -1000 .. 1000", np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])),
        (
            "float32, a (B, 4H) = (3, 8), large",
            (rng.standard_normal((3, 8)) * 200).astype(np.float32),
        ),
    ]
    cases = []
    for name, a in inputs:
        atol = 1e-7 if a.dtype == np.float32 else 1e-15
        cases.append(Case(name, (a,), _exact_sigmoid(a), hint, rtol=1e-5, atol=atol))
    run_cases("check_stable_sigmoid", strict, cases)


@by_hand("the weight gradients", ["companion.ref._hoisted.gradients", *AUTOGRAD])
def check_weight_gradients(fn: Callable) -> None:
    """``fn(dA, x, h_prev) -> (dW_ih, dW_hh, db)`` with one matrix product per weight.

    Shapes: dA (T, B, G*H) stacks every da_t; x (T, B, D); h_prev (T, B, H) stacks
    h_0..h_{T-1}. Returns dW_ih = sum_t da_t^T x_t (G*H, D), dW_hh = sum_t da_t^T h_{t-1}
    (G*H, H) and db = sum_t of the rows of da_t (G*H,). The expected values are the sums over
    t, computed step by step.
    """
    hint = (
        "reshape dA to (T*B, G*H), x to (T*B, D) and h_prev to (T*B, H): then dW_ih = dA.T @ X "
        "and dW_hh = dA.T @ H_prev sum over every step and example at once; db = dA.sum(axis=0)"
    )

    def build(T, B, D, H, G, seed):
        rng = np.random.default_rng(seed)
        dA = rng.standard_normal((T, B, G * H))
        x = rng.standard_normal((T, B, D))
        h_prev = np.tanh(rng.standard_normal((T, B, H)))
        dW_ih = sum(dA[t].T @ x[t] for t in range(T))
        dW_hh = sum(dA[t].T @ h_prev[t] for t in range(T))
        db = sum(dA[t].sum(axis=0) for t in range(T))
        return (dA, x, h_prev), (dW_ih, dW_hh, db)

    rows = [
        ("one step, one example (T=1, B=1)", 1, 1, 2, 3, 4, 0),
        ("LSTM-shaped, T=5, B=3, D=2, H=4", 5, 3, 2, 4, 4, 1),
        ("GRU-shaped, T=7, B=2, D=3, H=2", 7, 2, 3, 2, 3, 2),
        ("RNN-shaped, T=9, B=4, D=1, H=5", 9, 4, 1, 5, 1, 3),
    ]
    cases = table_cases(rows, build, hint, rtol=1e-10, atol=1e-12)
    run_cases("check_weight_gradients", fn, cases)


@by_hand("the count of the flops", ["companion.bench.flops"])
def check_layer_flops(fn: Callable) -> None:
    """``fn(family, B, T, D, H) -> int``: the flops of the matrix products of one forward and
    one full backward pass of a one-layer ``family`` ('rnn', 'lstm' or 'gru') over B sequences
    of T steps (a multiply and an add count as two flops)."""
    hint = (
        "a layer with G blocks (1 for the RNN, 3 for the GRU, 4 for the LSTM) multiplies a "
        "(G H, D) and a (G H, H) matrix by a vector per example and step forward: 2 G H (D + H) "
        "flops; backward needs two products of each size (the input gradients and the weight "
        "gradients), twice as many: 6 G H (D + H) B T in all"
    )
    rows = [
        ("lstm", 1, 1, 1, 1),
        ("lstm", 32, 100, 64, 128),
        ("gru", 32, 100, 64, 128),
        ("rnn", 4, 10, 3, 5),
        ("gru", 128, 50, 128, 256),
    ]
    cases = reference_cases(bench.flops, ("", "B", "T", "D", "H"), rows, hint)
    run_cases("check_layer_flops", fn, cases)


@by_hand(
    "the factors of the GRU's backward pass",
    [
        "companion.ref.gru_fast.factors",
        "companion.ref.gru.backward",
        "companion.ref.gru_fast.backward",
        *AUTOGRAD,
    ],
)
def check_gru_factors(fn: Callable) -> None:
    """``fn(r, z, n, ghn, h_prev) -> (Q_r, Q_z, Q_n, Q_g)``, each (B, H): the factors of the
    GRU's backward pass in torch's form, such that da_r = dh Q_r, da_z = dh Q_z,
    da_n = dh Q_n and dghn = dh Q_g for the gradient dh reaching h_t."""
    hint = (
        "h = (1 - z) n + z h_prev and n = tanh(. + r ghn): dn = dh (1 - z), so "
        "Q_n = (1 - z)(1 - n^2); dz = dh (h_prev - n), so Q_z = (h_prev - n) z (1 - z); "
        "dr = da_n ghn, so Q_r = Q_n ghn r (1 - r); dghn = da_n r, so Q_g = Q_n r"
    )

    def build(B, H, seed):
        rng = np.random.default_rng(seed)
        r, z = 1.0 / (1.0 + np.exp(-rng.standard_normal((2, B, H))))
        n, h_prev = np.tanh(rng.standard_normal((2, B, H)))
        ghn = rng.standard_normal((B, H))
        Qh, Q_n = np.empty((B, 3, H)), np.empty((B, H))
        gru_factors(np.stack([r, z, n], axis=1), ghn, h_prev, Qh, Q_n)
        return (r, z, n, ghn, h_prev), (Qh[:, 0].copy(), Qh[:, 1].copy(), Q_n, Qh[:, 2].copy())

    rows = [("B=1, H=1", 1, 1, 0), ("B=3, H=4", 3, 4, 1), ("B=2, H=7", 2, 7, 2)]
    cases = table_cases(rows, build, hint, rtol=1e-10, atol=1e-12)
    run_cases("check_gru_factors", fn, cases)
