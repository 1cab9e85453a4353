"""Checks for the code exercises of chapter 5 (the gated recurrent unit).

Each ``check_*`` takes the learner's function, runs it on several cases whose answers come
from the companion's reference code (``companion.ref.gru``), prints one line per case and
raises ``ExerciseCheckFailed`` if any case fails. Each declares what its exercise asks to be
written by hand (``by_hand``).

Stacked weights follow torch's block order r, z, n: ``W_ih`` (3H, D), ``W_hh`` (3H, H),
``b_ih`` and ``b_hh`` (3H,); the blocks are rows ``[:H]`` (r), ``[H:2H]`` (z) and ``[2H:]``
(n). The two biases stay separate, because b_hn sits inside the reset product.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.core import (
    COMPANION_LAYERS,
    COUNTS,
    LAYER_SIZES,
    TORCH_LAYERS,
    by_hand,
    reference_cases,
    run_cases,
    table_cases,
)
from companion.ref import gru

# (name, B, D, H, seed)
SHAPES = [
    ("one example, one unit (B=1, D=1, H=1)", 1, 1, 1, 0),
    ("B=3, D=2, H=4", 3, 2, 4, 1),
    ("B=2, D=5, H=3", 2, 5, 3, 2),
    ("B=4, D=3, H=6", 4, 3, 6, 3),
]
NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")


def _problem(B: int, D: int, H: int, seed: int):
    """Random weights and biases (larger than torch's draw, so every term matters), a state."""
    rng = np.random.default_rng(seed)
    params = {
        "W_ih": rng.standard_normal((3 * H, D)),
        "W_hh": rng.standard_normal((3 * H, H)) / np.sqrt(H),
        "b_ih": rng.standard_normal(3 * H),
        "b_hh": rng.standard_normal(3 * H),
    }
    x = rng.standard_normal((6, B, D))
    h_prev = np.tanh(rng.standard_normal((B, H)))
    return x, h_prev, params


@by_hand(
    "one GRU step",
    [
        "companion.ref.gru.step",
        "companion.ref.gru.forward",
        "companion.ref.gru_fast.forward",
        *TORCH_LAYERS,
        *COMPANION_LAYERS,
    ],
)
def check_gru_step(fn: Callable) -> None:
    """``fn(x_t, h_prev, W_ih, W_hh, b_ih, b_hh) -> h``: one step of torch's GRU.

    Shapes: x_t (B, D), h_prev (B, H), W_ih (3H, D), W_hh (3H, H), b_ih and b_hh (3H,);
    h (B, H). The inputs must not be modified. The reference is ``companion.ref.gru.step``.
    """
    hint = (
        "ax = x_t @ W_ih.T + b_ih and ah = h_prev @ W_hh.T + b_hh, blocks in the order r, z, n "
        "(torch's); r = sigmoid(ax_r + ah_r), z = sigmoid(ax_z + ah_z); n = tanh(ax_n + r * ah_n) "
        "(the reset multiplies W_hn h_prev + b_hn, bias included); h = (1 - z) * n + z * h_prev "
        "(in torch's convention z keeps the old state)"
    )

    def build(B, D, H, seed):
        x, h_prev, params = _problem(B, D, H, seed)
        return (x[0], h_prev, *(params[k] for k in NAMES)), gru.step(x[0], h_prev, params)

    run_cases("check_gru_step", fn, table_cases(SHAPES, build, hint, rtol=1e-9, atol=1e-12))


@by_hand("the count of the parameters", COUNTS)
def check_gru_param_count(fn: Callable) -> None:
    """``fn(D, H) -> int``: the number of parameters of ``torch.nn.GRU(D, H)``.

    torch keeps two bias vectors, b_ih and b_hh, so the count is 3 (H (D + H) + 2H).
    """
    hint = (
        "three blocks (r, z, n), each with an (H, D) input matrix, an (H, H) recurrent "
        "matrix and, in torch, two bias vectors of H (b_ih and b_hh): 3 (H (D + H) + 2H)"
    )
    cases = reference_cases(gru.count_params, ("D", "H"), LAYER_SIZES, hint)
    run_cases("check_gru_param_count", fn, cases)


class InputModified(Exception):
    """The learner's function changed an array of the params it was given."""


def _chung_outputs(fn: Callable) -> Callable:
    """Call ``fn(params)`` and run the Chung-convention GRU with what it returns."""

    def run(W_ih, W_hh, b_ih, b_hh, x, h0):
        params = dict(zip(NAMES, (W_ih, W_hh, b_ih, b_hh), strict=True))
        before = {k: v.copy() for k, v in params.items()}
        flipped = fn(params)
        for k in NAMES:
            if not np.array_equal(params[k], before[k]):
                raise InputModified(
                    f"params[{k!r}] was changed in place; copy the arrays before negating"
                )
        if not isinstance(flipped, dict):
            raise TypeError(f"expected a dict with keys {NAMES}; got {type(flipped).__name__}")
        return gru.forward(x, h0, flipped, update="chung")[0]

    return run


@by_hand("the change of convention", ["companion.ref.gru.flip_update_convention"])
def check_flip_update(fn: Callable) -> None:
    """``fn(params) -> params2``: a GRU in the convention of Chung et al. (2014),
    h_t = z n + (1 - z) h_{t-1}, with ``params2`` must compute what torch's GRU,
    h_t = (1 - z) n + z h_{t-1}, computes with ``params``.

    ``params`` is a dict of ``W_ih`` (3H, D), ``W_hh`` (3H, H), ``b_ih``, ``b_hh`` (3H,); it must
    not be modified. The check compares the whole output sequence h_1..h_T of
    ``companion.ref.gru.forward(x, h0, params2, update="chung")`` with the torch-convention
    ``forward(x, h0, params)``.
    """
    hint = (
        "sigma(-a) = 1 - sigma(a): negate the whole z block (rows H:2H) of all four arrays, "
        "W_ih, W_hh, b_ih and b_hh (weights and biases), and leave the r and n blocks alone; "
        "work on copies"
    )

    def build(B, D, H, seed):
        x, h_prev, params = _problem(B, D, H, seed)
        return (*(params[k] for k in NAMES), x, h_prev), gru.forward(x, h_prev, params)[0]

    cases = table_cases(SHAPES, build, hint, rtol=1e-9, atol=1e-12)
    run_cases("check_flip_update", _chung_outputs(fn), cases)


def _copy_outputs(fn: Callable) -> Callable:
    """Call ``fn(D, H)`` and run torch's GRU with the four arrays it returns."""

    def run(D, H, x, h0):
        out = fn(D, H)
        if not isinstance(out, tuple | list) or len(out) != 4:
            raise TypeError("expected a tuple (W_ih, W_hh, b_ih, b_hh)")
        params = {k: np.asarray(v, dtype=np.float64) for k, v in zip(NAMES, out, strict=True)}
        return gru.forward(x, h0, params)[0]

    return run


@by_hand("the parameters of a GRU that copies its state", [])  # nothing computes them
def check_copy_state(fn: Callable) -> None:
    """``fn(D, H) -> (W_ih, W_hh, b_ih, b_hh)``: a GRU (torch's form) that copies its state.

    For every input x_t in [-1, 1]^D and every initial state h_0 in [-1, 1]^H, each h_t must
    equal h_0 to 1e-6 over 50 steps: the input is ignored. Shapes as ``torch.nn.GRU(D, H)``.
    """
    hint = (
        "in torch's convention h_t = (1 - z) n + z h_{t-1}, so copying needs z = 1 for every "
        "input: zero weights in the z block (rows H:2H) and a large POSITIVE z bias, e.g. 20 "
        "(sigma(20) ~ 1 - 2e-9); the r and n blocks then do not matter"
    )

    def build(B, D, H, seed, corners):
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1.0, 1.0, size=(50, B, D))
        h0 = rng.uniform(-1.0, 1.0, size=(B, H))
        x = np.sign(x) if corners else x
        return (D, H, x, h0), np.broadcast_to(h0, (50, B, H)).copy()

    rows = [
        ("one unit, one input", 2, 1, 1, 0, False),
        ("D=3, H=4", 5, 3, 4, 1, False),
        ("D=2, H=8, inputs at the corners of [-1, 1]^D", 8, 2, 8, 2, True),
    ]
    cases = table_cases(rows, build, hint, rtol=0.0, atol=1e-6)
    run_cases("check_copy_state", _copy_outputs(fn), cases)
