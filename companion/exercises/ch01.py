"""Checks for the code exercises of chapter 1 (sequences and the recurrent cell).

Each ``check_*`` takes the learner's function, runs it on several cases whose answers come
from the companion's reference code, prints one line per case and raises
``ExerciseCheckFailed`` if any case fails. Each declares what its exercise asks to be written
by hand (``by_hand``): a case whose call reaches one of those callables fails.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.exercises.core import (
    COUNTS,
    SOFTMAX,
    TORCH_LAYERS,
    Case,
    by_hand,
    random_logits,
    run_cases,
    table_cases,
)
from companion.ref import rnn


def _elman_case(name: str, T: int, B: int, D: int, H: int, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    params = rnn.init_params(D, H, rng)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H)) * 0.5
    h_seq, _, _ = rnn.forward(x, h0, params)
    args = (x, h0, params["W_ih"], params["W_hh"], params["b_ih"] + params["b_hh"])
    return Case(
        name,
        args,
        h_seq,
        hint="h_t = tanh(W_ih x_t + W_hh h_{t-1} + b) for t = 1..T, starting from h0; "
        "with rows as examples that is x[t] @ W_ih.T + h @ W_hh.T + b; return all T states.",
    )


@by_hand(
    "the Elman forward pass",
    ["companion.ref.rnn.step", "companion.ref.rnn.forward", "companion.ref.rnn_fast.forward"]
    + list(TORCH_LAYERS),
)
def check_elman_forward(fn: Callable) -> None:
    """``fn(x, h0, W_ih, W_hh, b) -> h_seq``: the tanh Elman RNN over a sequence.

    Shapes: x (T, B, D), h0 (B, H), W_ih (H, D), W_hh (H, H), b (H,); h_seq (T, B, H).
    """
    cases = [
        _elman_case("one step, one example", 1, 1, 2, 3, 0),
        _elman_case("T=5, batch of 3", 5, 3, 4, 6, 1),
        _elman_case("hidden size 1", 7, 2, 3, 1, 2),
        _elman_case("long sequence, T=40", 40, 2, 2, 5, 3),
    ]
    run_cases("check_elman_forward", fn, cases)


def count_rnn_params(D: int, H: int, Q: int) -> int:
    """Parameters of an Elman RNN with a linear readout, one bias per layer.

    W_ih (H x D), W_hh (H x H), b (H), W_hq (Q x H), b_q (Q).
    """
    return H * D + H * H + H + Q * H + Q


@by_hand(
    "the count of the parameters",
    ["companion.exercises.ch01.count_rnn_params", "torch.nn.Linear", *COUNTS],
)
def check_param_count(fn: Callable) -> None:
    """``fn(D, H, Q) -> int``: the number of parameters of the Elman RNN with a readout."""
    hint = "count W_ih (H x D), W_hh (H x H), b (H), W_hq (Q x H) and b_q (Q); T does not appear"
    sizes = [(1, 1, 1), (3, 8, 2), (100, 256, 100), (27, 64, 27)]
    cases = [
        Case(f"D={D}, H={H}, Q={Q}", (D, H, Q), count_rnn_params(D, H, Q), hint)
        for D, H, Q in sizes
    ]
    run_cases("check_param_count", fn, cases)


def _cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    T, B = targets.shape
    picked = log_p[np.arange(T)[:, None], np.arange(B)[None, :], targets]
    return float(-picked.mean())


@by_hand("the cross-entropy", ["companion.exercises.ch01._cross_entropy", *SOFTMAX])
def check_sequence_loss(fn: Callable) -> None:
    """``fn(logits, targets) -> float``: mean cross-entropy over all steps and examples.

    Shapes: logits (T, B, Q) (unnormalised scores), targets (T, B) integers in [0, Q).
    """
    hint = (
        "log-softmax over the last axis (subtract the max first for stability), pick the "
        "entry of the target class at every (t, b), and average minus that over T*B"
    )

    def build(shape, scale, seed):
        logits, targets = random_logits(shape, scale, seed)
        return (logits, targets), _cross_entropy(logits, targets)

    rows = [
        ("uniform scores give log Q", (3, 2, 5), 0.0, 0),
        ("T=6, B=4, Q=3", (6, 4, 3), 1.0, 1),
        ("large scores (needs the max trick)", (4, 2, 7), 800.0, 2),
    ]
    run_cases("check_sequence_loss", fn, table_cases(rows, build, hint))
