"""Checks for the code exercises of chapter 7 (practice: forecasting a real series).

Each ``check_*`` takes the learner's function, runs it on several cases whose answers come
from ``companion.timeseries``, prints one line per case and raises ``ExerciseCheckFailed`` if
any case fails. Each declares what its exercise asks to be written by hand (``by_hand``): the
function of ``companion.timeseries`` that computes it. Series are numpy float64 arrays of
shape (N,).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion import timeseries as ts
from companion.exercises.core import by_hand, run_cases, table_cases


def _series(n: int, seed: int) -> np.ndarray:
    """A noisy cycle of period 11 with a trend: seasonal, but not exactly periodic."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + 0.1 * t + 30 * np.sin(2 * np.pi * t / 11) + 5 * rng.standard_normal(n)


def _series_cases(rows: list[tuple], reference: Callable, hint: str, **tolerance: float):
    """Cases ``(name, n, *args, seed)``: ``reference(y, *args)`` on a series of n values."""

    def build(n, *rest):
        *args, seed = rest
        y = _series(n, seed)
        return (y, *args), reference(y, *args)

    return table_cases(rows, build, hint, **tolerance)


@by_hand(
    "the seasonal naive forecast",
    ["companion.timeseries.seasonal_naive", "companion.timeseries.seasonal_naive_one_step"],
)
def check_seasonal_naive(fn: Callable) -> None:
    """``fn(y, season, horizon) -> y_hat`` (horizon,): repeat the last season of ``y``.

    y_hat_{N+h} = y_{N+h-m(k+1)}, k = (h - 1) // m, for h = 1..horizon; the reference is
    ``companion.timeseries.seasonal_naive``. ``y`` must not be modified.
    """
    hint = (
        "the forecast h steps after the end is the value one (or more) whole seasons earlier: "
        "take the last `season` values, y[-season:], and repeat them in order; "
        "y_hat[h - 1] = y[len(y) - season + (h - 1) % season]"
    )
    rows = [
        ("season 11, horizon 5 (less than a season)", 60, 11, 5, 0),
        ("season 11, horizon 11", 50, 11, 11, 1),
        ("season 4, horizon 10 (more than two seasons)", 30, 4, 10, 2),
        ("season 1 is the naive forecast", 20, 1, 3, 3),
    ]
    run_cases("check_seasonal_naive", fn, _series_cases(rows, ts.seasonal_naive, hint))


@by_hand(
    "the windows and their targets",
    ["companion.timeseries.make_windows", "companion.timeseries.windows_for_targets"],
)
def check_make_windows(fn: Callable) -> None:
    """``fn(y, width) -> (X, t)``: X (N - width, width) with X[i] = y[i:i+width], t[i] = y[i+width].

    The reference is ``companion.timeseries.make_windows``; every window is followed by its
    target, so the last value of ``y`` is a target and never inside a window.
    """
    hint = (
        "there are N - width windows; window i is y[i : i + width] and its target the NEXT "
        "value, y[i + width]; the target must not be inside its own window"
    )
    rows = [
        ("width 3 on 10 values", 10, 3, 0),
        ("width 1 (the naive pairs)", 8, 1, 1),
        ("width 20 on 50 values", 50, 20, 2),
    ]
    cases = _series_cases(rows, ts.make_windows, hint, rtol=0, atol=0)
    run_cases("check_make_windows", fn, cases)


@by_hand("the scaling", ["companion.timeseries.scale_train_only"])
def check_scale_train_only(fn: Callable) -> None:
    """``fn(train, test) -> (train_scaled, test_scaled)`` standardised with train's statistics.

    Both use the mean and the (population, ``ddof=0``) standard deviation of ``train`` only;
    the reference is ``companion.timeseries.scale_train_only``. Inputs must not be modified.
    """
    hint = (
        "compute mean = train.mean() and std = train.std() from the TRAINING span alone and "
        "apply (a - mean) / std to both arrays; statistics of the test span, or of both spans "
        "together, leak the future into the inputs"
    )

    def build(n_train, n_test, shift, seed):
        y = _series(n_train + n_test, seed)
        train, test = y[:n_train], y[n_train:] + shift
        return (train, test), ts.scale_train_only(train, test)[:2]

    rows = [
        ("test span like the training span", 80, 20, 0.0, 0),
        ("test span shifted upwards (a trend)", 60, 30, 40.0, 1),
        ("short test span", 40, 3, -10.0, 2),
    ]
    run_cases("check_scale_train_only", fn, table_cases(rows, build, hint))


@by_hand("the least-squares fit", ["companion.timeseries.ar_fit"])
def check_ar_fit(fn: Callable) -> None:
    """``fn(y, p) -> coef`` (p + 1,): least-squares AR(p) with intercept, (c, phi_1..phi_p).

    It minimises sum over t = p..N-1 of (y_t - c - phi_1 y_{t-1} - ... - phi_p y_{t-p})^2; the
    reference is ``companion.timeseries.ar_fit``. The first coefficient multiplies the most
    recent value.
    """
    hint = (
        "build one row per target t = p..N-1: [1, y[t-1], y[t-2], ..., y[t-p]] (most recent "
        "first) and solve the least-squares problem with np.linalg.lstsq; keep the intercept"
    )
    rows = [("AR(1)", 40, 1, 0), ("AR(3)", 80, 3, 1), ("AR(9), a sunspot-like order", 200, 9, 2)]
    run_cases("check_ar_fit", fn, _series_cases(rows, ts.ar_fit, hint))
