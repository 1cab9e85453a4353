"""Checks for the code exercises of chapter 6 (variants and architectures).

Each ``check_*`` takes the learner's function, runs it on several cases whose answers come
from reference code here (numpy, checked against the torch modules of ``companion.nn`` by the
test suite), prints one line per case and raises ``ExerciseCheckFailed`` if any case fails.
Each declares what its exercise asks to be written by hand (``by_hand``). Stacked weights
follow torch's gate order i, f, g, o, with one bias ``b = b_ih + b_hh``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.core import (
    COUNTS,
    TORCH_LAYERS,
    by_hand,
    reference_cases,
    run_cases,
    table_cases,
)
from companion.ref import rnn


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


# --- peephole step ---------------------------------------------------------------------------
def peephole_step(x_t, h_prev, c_prev, W_ih, W_hh, b, p):
    """One step of the peephole LSTM (Greff et al.'s vanilla); the reference.

    p (3H,) holds p_i, p_f, p_o: i and f read c_{t-1}, o reads the new c_t.
    """
    a_i, a_f, a_g, a_o = np.split(x_t @ W_ih.T + h_prev @ W_hh.T + b, 4, axis=1)
    p_i, p_f, p_o = np.split(p, 3)
    i, f = _sigmoid(a_i + p_i * c_prev), _sigmoid(a_f + p_f * c_prev)
    c = f * c_prev + i * np.tanh(a_g)
    h = _sigmoid(a_o + p_o * c) * np.tanh(c)
    return h, c


@by_hand(
    "one peephole LSTM step",
    ["companion.exercises.ch06.peephole_step", "companion.nn.variants.PeepholeLSTM"],
)
def check_peephole_step(fn: Callable) -> None:
    """``fn(x_t, h_prev, c_prev, W_ih, W_hh, b, p) -> (h, c)``: one peephole LSTM step.

    Shapes: x_t (B, D), h_prev and c_prev (B, H), W_ih (4H, D), W_hh (4H, H), b (4H,), p (3H,)
    with blocks p_i, p_f, p_o; h and c (B, H). The inputs must not be modified.
    """
    hint = (
        "as chapter 4's step, plus p_i * c_prev in a_i and p_f * c_prev in a_f; the output "
        "gate peeks at the NEW cell: o = sigmoid(a_o + p_o * c) after c is updated"
    )

    def build(B, D, H, seed, peephole_scale):
        rng = np.random.default_rng(seed)
        args = (
            rng.standard_normal((B, D)),
            np.tanh(rng.standard_normal((B, H))),
            2 * rng.standard_normal((B, H)),
            rng.standard_normal((4 * H, D)),
            rng.standard_normal((4 * H, H)) / np.sqrt(H),
            0.5 * rng.standard_normal(4 * H),
            peephole_scale * rng.standard_normal(3 * H),
        )
        return args, peephole_step(*args)

    rows = [
        ("B=1, D=1, H=1", 1, 1, 1, 0, 1),
        ("B=3, D=2, H=4", 3, 2, 4, 1, 1),
        ("B=2, D=5, H=3, large peepholes", 2, 5, 3, 2, 3),
    ]
    run_cases("check_peephole_step", fn, table_cases(rows, build, hint, rtol=1e-9))


# --- parameter counts ------------------------------------------------------------------------
def variant_param_count(name: str, D: int, H: int) -> int:
    """Parameters a variant *uses* (torch's two bias vectors per block); the reference."""
    block = H * D + H * H + 2 * H  # one block: W_ih, W_hh, b_ih, b_hh
    extra = {"V": 3 * H, "FGR": 9 * H * H}.get(name, 0)
    blocks = 3 if name in ("NIG", "NFG", "NOG", "CIFG") else 4
    return blocks * block + extra


VARIANT_NAMES = ("NP", "V", "NIG", "NFG", "NOG", "NIAF", "NOAF", "CIFG", "FGR")


@by_hand(
    "the count of the parameters",
    ["companion.exercises.ch06.variant_param_count", "companion.nn.variants", *COUNTS],
)
def check_variant_param_count(fn: Callable) -> None:
    """``fn(name, D, H) -> int``: the parameters that variant ``name`` uses.

    Names as ``companion.nn.VARIANTS``; count torch's two bias vectors per block, and leave out
    blocks that the variant never reads (the i block of NIG and CIFG, ...).
    """
    hint = (
        "a block has H D + H^2 + 2H; NP, NIAF, NOAF use four blocks; NIG, NFG, NOG and CIFG "
        "three; V adds three peephole vectors of H; FGR adds nine H x H gate matrices"
    )
    rows = [(name, D, H) for name in VARIANT_NAMES for D, H in [(2, 32), (10, 7)]]
    cases = reference_cases(variant_param_count, ("", "D", "H"), rows, hint)
    run_cases("check_variant_param_count", fn, cases)


def stacked_param_count(cell: str, D: int, H: int, num_layers: int, bidirectional: bool) -> int:
    """Parameters of ``torch.nn.{RNN,GRU,LSTM}(D, H, num_layers, bidirectional=...)``."""
    G, dirs = {"rnn": 1, "gru": 3, "lstm": 4}[cell], 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        D_l = D if layer == 0 else dirs * H  # a layer above reads both directions
        total += dirs * G * (H * D_l + H * H + 2 * H)
    return total


@by_hand(
    "the count of the parameters (without building the module)",
    ["companion.exercises.ch06.stacked_param_count", *COUNTS],
)
def check_stacked_param_count(fn: Callable) -> None:
    """``fn(cell, D, H, num_layers, bidirectional) -> int``: the parameters of the torch module
    ``torch.nn.LSTM`` (cell 'lstm'), ``GRU`` ('gru') or ``RNN`` ('rnn') with these arguments."""
    hint = (
        "each layer and direction has G blocks of H D_l + H^2 + 2H (G = 1, 3, 4); layer 0 "
        "reads D inputs, every layer above reads the output of the one below, which is 2H "
        "wide when the network is bidirectional"
    )
    rows = [
        ("lstm", 3, 5, 1, False),
        ("lstm", 4, 6, 2, True),
        ("gru", 10, 20, 3, True),
        ("rnn", 2, 8, 2, False),
        ("gru", 7, 7, 2, True),
    ]
    labels = ("", "D", "H", "L", "bidirectional")
    cases = reference_cases(stacked_param_count, labels, rows, hint)
    run_cases("check_stacked_param_count", fn, cases)


# --- a bidirectional layer -------------------------------------------------------------------
def _rnn(x, W, U, b):
    """companion.ref.rnn's tanh layer from a zero state, with the bias as one vector."""
    params = {"W_ih": W, "W_hh": U, "b_ih": b, "b_hh": np.zeros_like(b)}
    return rnn.forward(np.ascontiguousarray(x), None, params)[0]


def bidirectional_rnn(x, W_f, U_f, b_f, W_r, U_r, b_r):
    """A bidirectional tanh RNN layer from zero states: (T, B, 2H), forward features first."""
    forward = _rnn(x, W_f, U_f, b_f)
    reverse = _rnn(x[::-1], W_r, U_r, b_r)[::-1]  # run on the reversed sequence, flip back
    return np.concatenate([forward, reverse], axis=-1)


@by_hand(
    "the bidirectional layer and its recurrences",
    [
        "companion.exercises.ch06.bidirectional_rnn",
        "companion.ref.rnn.step",
        "companion.ref.rnn.forward",
        "companion.ref.rnn_fast.forward",
        "companion.nn.Stacked",
        *TORCH_LAYERS,
    ],
)
def check_bidirectional_rnn(fn: Callable) -> None:
    """``fn(x, W_f, U_f, b_f, W_r, U_r, b_r) -> out``: one bidirectional tanh RNN layer.

    x (T, B, D); W (H, D), U (H, H), b (H,) for the forward (f) and the reverse (r) direction;
    h_t = tanh(W x_t + U h_{t-1} + b) forward from t = 1, the reverse one from t = T, both from
    zero states. ``out`` (T, B, 2H): at each t the forward state, then the reverse state, as
    ``torch.nn.RNN(bidirectional=True)`` returns them.
    """
    hint = (
        "run the reverse RNN on x[::-1] and flip its outputs back with [::-1] so that row t "
        "holds the state that has read x_t .. x_T; concatenate [forward, reverse] on the last "
        "axis; each direction has its own weights"
    )

    def build(T, B, D, H, seed):
        rng = np.random.default_rng(seed)
        args = [rng.standard_normal((T, B, D))]
        for _ in range(2):  # forward, then reverse: W, U, b
            args += [
                rng.standard_normal((H, D)),
                rng.standard_normal((H, H)) / np.sqrt(H),
                0.3 * rng.standard_normal(H),
            ]
        return tuple(args), bidirectional_rnn(*args)

    rows = [
        ("T=1, B=1, D=1, H=1", 1, 1, 1, 1, 0),
        ("T=5, B=2, D=3, H=4", 5, 2, 3, 4, 1),
        ("T=9, B=3, D=2, H=2", 9, 3, 2, 2, 2),
    ]
    run_cases("check_bidirectional_rnn", fn, table_cases(rows, build, hint, rtol=1e-9))


# --- the log-space scan ----------------------------------------------------------------------
def log_space_scan(log_a: np.ndarray, log_b: np.ndarray) -> np.ndarray:
    """h_t = a_t h_{t-1} + b_t from h_0 = 0, for all t, from the logs; the reference."""
    a_star = np.cumsum(log_a, axis=0)  # log(a_1 ... a_t)
    return np.exp(a_star + np.logaddexp.accumulate(log_b - a_star, axis=0))


@by_hand(
    "the scan in log space",
    [
        "companion.exercises.ch06.log_space_scan",
        "companion.nn.minimal.log_scan",
        "companion.nn.minimal.linear_scan",
    ],
)
def check_log_space_scan(fn: Callable) -> None:
    """``fn(log_a, log_b) -> h``: the linear scan h_t = a_t h_{t-1} + b_t (h_0 = 0) for all t.

    ``log_a``, ``log_b`` (T, B, H) are the logs of positive coefficients; ``h`` (T, B, H). The
    long cases have products a_1 ... a_t far below the smallest float64 (1e-308): a form that
    divides by the cumulative product in linear space fails there.
    """
    hint = (
        "with A_t = cumsum(log_a), h_t = exp(A_t + log sum_{k<=t} exp(log_b_k - A_k)); the "
        "cumulative log-sum-exp is np.logaddexp.accumulate(..., axis=0); never form "
        "exp(A_t) on its own"
    )

    def build(T, B, H, seed, scale):
        rng = np.random.default_rng(seed)
        log_a = -scale * rng.uniform(0.2, 1.2, size=(T, B, H))
        log_b = rng.normal(-0.5, 0.5, size=(T, B, H))
        return (log_a, log_b), log_space_scan(log_a, log_b)

    rows = [
        ("T=1, B=1, H=1", 1, 1, 1, 0, 1.0),
        ("T=6, B=2, H=3", 6, 2, 3, 1, 1.0),
        ("T=50, B=3, H=2", 50, 3, 2, 2, 1.0),
        ("T=2000, a about 0.5: a_1...a_T = 1e-300 and below", 2000, 2, 2, 3, 1.0),
        ("T=800, a about 0.05", 800, 1, 3, 4, 4.0),
    ]
    run_cases("check_log_space_scan", fn, table_cases(rows, build, hint, rtol=1e-8))
