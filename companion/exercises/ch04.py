"""Checks for the code exercises of chapter 4 (long short-term memory).

Each ``check_*`` takes the learner's function, runs it on several cases whose answers come
from the companion's reference code (``companion.ref.lstm``), prints one line per case and
raises ``ExerciseCheckFailed`` if any case fails. Each declares what its exercise asks to be
written by hand (``by_hand``).

Stacked weights follow torch's gate order i, f, g, o: ``W_ih`` (4H, D), ``W_hh`` (4H, H) and
one bias ``b = b_ih + b_hh`` (4H,); the blocks are ``a[:, :H]`` (i), ``a[:, H:2H]`` (f),
``a[:, 2H:3H]`` (g) and ``a[:, 3H:]`` (o).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.core import (
    AUTOGRAD,
    COMPANION_LAYERS,
    COUNTS,
    LAYER_SIZES,
    TORCH_LAYERS,
    Case,
    by_hand,
    reference_cases,
    run_cases,
    table_cases,
)
from companion.ref import lstm

# (name, B, D, H, seed, scale of the initial state)
SHAPES = [
    ("one example, one unit (B=1, D=1, H=1)", 1, 1, 1, 0, 1.0),
    ("B=3, D=2, H=4", 3, 2, 4, 1, 1.0),
    ("B=2, D=5, H=3", 2, 5, 3, 2, 1.0),
    ("B=4, D=3, H=6, large state", 4, 3, 6, 3, 3.0),
]


def _problem(B: int, D: int, H: int, seed: int, scale: float):
    """Random weights (larger than torch's draw, so that every gate matters) and a state."""
    rng = np.random.default_rng(seed)
    W_ih = rng.standard_normal((4 * H, D))
    W_hh = rng.standard_normal((4 * H, H)) / np.sqrt(H)
    b = rng.standard_normal(4 * H) * 0.5
    x_t = rng.standard_normal((B, D))
    h_prev = np.tanh(rng.standard_normal((B, H)))
    c_prev = rng.standard_normal((B, H)) * scale
    return rng, x_t, h_prev, c_prev, W_ih, W_hh, b


def _params(W_ih: np.ndarray, W_hh: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    return {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b, "b_hh": np.zeros_like(b)}


LSTM_BACKWARD = ("companion.ref.lstm.backward", "companion.ref.lstm_fast.backward", *AUTOGRAD)


@by_hand(
    "one LSTM step",
    [
        "companion.ref.lstm.step",
        "companion.ref.lstm.forward",
        "companion.ref.lstm_fast.forward",
        *TORCH_LAYERS,
        *COMPANION_LAYERS,
    ],
)
def check_lstm_step(fn: Callable) -> None:
    """``fn(x_t, h_prev, c_prev, W_ih, W_hh, b) -> (h, c)``: one step of the LSTM.

    Shapes: x_t (B, D), h_prev and c_prev (B, H), W_ih (4H, D), W_hh (4H, H), b (4H,);
    h and c (B, H). The inputs must not be modified.
    """
    hint = (
        "a = x_t @ W_ih.T + h_prev @ W_hh.T + b (rows: transpose the weights); the blocks of a "
        "are in the order i, f, g, o (torch's); i, f, o = sigmoid, g = tanh; "
        "c = f * c_prev + i * g; h = o * tanh(c) (tanh of the new cell, not c itself)"
    )

    def build(B, D, H, seed, scale):
        _, x_t, h_prev, c_prev, W_ih, W_hh, b = _problem(B, D, H, seed, scale)
        expected = lstm.step(x_t, (h_prev, c_prev), _params(W_ih, W_hh, b))
        return (x_t, h_prev, c_prev, W_ih, W_hh, b), expected

    run_cases("check_lstm_step", fn, table_cases(SHAPES, build, hint, rtol=1e-9))


@by_hand("the count of the parameters", COUNTS)
def check_lstm_param_count(fn: Callable) -> None:
    """``fn(D, H) -> int``: the number of parameters of ``torch.nn.LSTM(D, H)``.

    torch keeps two bias vectors, b_ih and b_hh, so the count is 4 (H (D + H) + 2H).
    """
    hint = (
        "four blocks (i, f, g, o), each with an (H, D) input matrix, an (H, H) recurrent "
        "matrix and, in torch, two bias vectors of H (b_ih and b_hh): 4 (H (D + H) + 2H)"
    )
    cases = reference_cases(lstm.count_params, ("D", "H"), LAYER_SIZES, hint)
    run_cases("check_lstm_param_count", fn, cases)


@by_hand("the gradient along the cell path", LSTM_BACKWARD)
def check_cell_path_gradient(fn: Callable) -> None:
    """``fn(f_seq) -> g``: dc_T/dc_0 along the cell path alone, per example and unit.

    ``f_seq`` (T, B, H) holds the forget gates f_1..f_T; along the path c_0 -> c_1 -> ... ->
    c_T each step multiplies by f_t, so g (B, H) is their element-wise product. The
    reference is ``companion.ref.lstm.backward`` with a loss that reads c_T alone, on an LSTM
    whose W_hh is zero (so the hidden state carries nothing back).
    """
    hint = (
        "c_t = f_t * c_{t-1} + i_t * g_t gives dc_{t-1} = f_t * dc_t on the cell path, so "
        "dc_T/dc_0 = f_1 * f_2 * ... * f_T: the product (not the sum) over the time axis "
        "(axis 0) of every row of f_seq, the first and the last included"
    )

    def build(T, B, D, H, seed, forget_bias):
        rng = np.random.default_rng(seed)
        params = lstm.init_params(D, H, rng, forget_bias=forget_bias)
        params["W_hh"][:] = 0.0  # no path through h: only the cell path is left
        _, _, cache = lstm.forward(rng.standard_normal((T, B, D)), None, params)
        _, (_, dc0), _ = lstm.backward(np.zeros((T, B, H)), (None, np.ones((B, H))), cache)
        return (cache["gates"]["f"].copy(),), dc0

    rows = [
        ("one step: the gradient is f_1", 1, 2, 2, 3, 0, 0.0),
        ("T=5, B=2, H=3", 5, 2, 2, 3, 1, 0.0),
        ("T=20, forget bias 1 (Jozefowicz et al.)", 20, 3, 2, 4, 2, 1.0),
        ("T=50, forget bias 3: the gradient survives", 50, 2, 1, 2, 3, 3.0),
    ]
    cases = table_cases(rows, build, hint, rtol=1e-9, atol=1e-15)
    saturated = np.ones((4, 1, 3))
    saturated[2, 0, 1] = 0.0  # one closed gate cuts the path for that unit
    cases.append(Case("gates at 1 and one at 0", (saturated,), saturated.prod(axis=0), hint))
    run_cases("check_cell_path_gradient", fn, cases)


@by_hand("the backward pass of one LSTM step", LSTM_BACKWARD)
def check_lstm_step_backward(fn: Callable) -> None:
    """``fn(dh, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b) -> (dx, dh_prev, dc_prev, dW_ih,
    dW_hh, db)``: the backward pass of one LSTM step.

    ``dh`` (B, H) is the total gradient reaching h_t; ``dc_next`` (B, H) the gradient reaching
    c_t from step t+1 (already through f_{t+1}), so the total reaching c_t is
    dc = dc_next + dh * o * (1 - tanh^2(c_t)). The step is recomputed from its inputs.
    Shapes: dx (B, D), dh_prev and dc_prev (B, H), dW_ih (4H, D), dW_hh (4H, H), db (4H,).
    The reference is ``companion.ref.lstm.backward`` on a sequence of one step.
    """
    hint = (
        "recompute a, i, f, g, o and c as in the forward (order i, f, g, o); do = dh * tanh(c); "
        "dc = dc_next + dh * o * (1 - tanh(c)**2) (both terms); di = dc * g; df = dc * c_prev; "
        "dg = dc * i; da = concatenate([di*i*(1-i), df*f*(1-f), dg*(1-g**2), do*o*(1-o)], "
        "axis=1); dW_ih = da.T @ x_t; dW_hh = da.T @ h_prev; db = da.sum(0); dx = da @ W_ih; "
        "dh_prev = da @ W_hh; dc_prev = dc * f"
    )

    def build(B, D, H, seed, scale, dh_on, dc_on):
        rng, x_t, h_prev, c_prev, W_ih, W_hh, b = _problem(B, D, H, seed, scale)
        dh = rng.standard_normal((B, H)) * dh_on
        dc_next = rng.standard_normal((B, H)) * dc_on
        _, _, cache = lstm.forward(x_t[None], (h_prev, c_prev), _params(W_ih, W_hh, b))
        dx, (dh_prev, dc_prev), grads = lstm.backward(dh[None], (None, dc_next), cache)
        expected = (dx[0], dh_prev, dc_prev, grads["W_ih"], grads["W_hh"], grads["b_ih"])
        return (dh, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b), expected

    rows = [(*shape, 1.0, 1.0) for shape in SHAPES] + [
        ("no gradient from step t+1 (dc_next = 0)", 2, 3, 4, 4, 1.0, 1.0, 0.0),
        ("no gradient reaching h_t (dh = 0)", 3, 2, 3, 5, 1.0, 0.0, 1.0),
    ]
    cases = table_cases(rows, build, hint, rtol=1e-9, atol=1e-12)
    run_cases("check_lstm_step_backward", fn, cases)
