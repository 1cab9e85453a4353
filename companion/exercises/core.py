"""The engine behind every exercise check: run cases, report each, raise on failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class ExerciseCheckFailed(AssertionError):
    """Raised when at least one case of an exercise check fails; the message lists them."""


@dataclass
class Case:
    """One case of a check: call ``fn(*args)`` and compare the result with ``expected``.

    ``inputs`` (names of array arguments) are copied before the call and compared after it,
    so a learner's function that modifies its input fails with a message saying so.
    """

    name: str
    args: tuple
    expected: Any
    hint: str
    rtol: float = 1e-6
    atol: float = 1e-8
    kwargs: dict = field(default_factory=dict)


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        flat = np.array2string(value.ravel()[:4], precision=4, separator=", ")
        more = ", ..." if value.size > 4 else ""
        return f"array shape {value.shape}, dtype {value.dtype}: {flat[:-1]}{more}]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return repr(value)


def _compare(actual: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """Return None if ``actual`` matches ``expected``, else a reason."""
    if isinstance(expected, tuple):
        if not isinstance(actual, tuple) or len(actual) != len(expected):
            return f"expected a tuple of {len(expected)} values"
        for k, (a, e) in enumerate(zip(actual, expected, strict=True)):
            reason = _compare(a, e, rtol, atol)
            if reason:
                return f"item {k}: {reason}"
        return None
    if isinstance(expected, np.ndarray):
        if not isinstance(actual, np.ndarray):
            return f"expected a numpy array, got {type(actual).__name__}"
        if actual.shape != expected.shape:
            return f"shape {actual.shape}, expected {expected.shape}"
        if not np.allclose(actual, expected, rtol=rtol, atol=atol):
            err = np.max(np.abs(actual - expected))
            return f"values differ (max abs difference {err:.3g})"
        return None
    if isinstance(expected, float):
        if not isinstance(actual, int | float | np.floating | np.integer):
            return f"expected a number, got {type(actual).__name__}"
        return None if np.isclose(actual, expected, rtol=rtol, atol=atol) else "value differs"
    return None if actual == expected else "value differs"


def _copy_args(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def run_cases(title: str, fn: Callable, cases: list[Case], verbose: bool = True) -> int:
    """Run ``fn`` on every case, print a report, and raise if any case fails.

    Returns the number of cases passed (all of them, when it returns).
    """
    if not callable(fn):
        raise TypeError(f"{title}: expected a function to check; got {type(fn).__name__}")
    failures = []
    lines = [f"{title}:"]
    for case in cases:
        originals = _copy_args(case.args)
        args = _copy_args(case.args)
        try:
            actual = fn(*args, **case.kwargs)
        except NotImplementedError:
            reason, actual = "not implemented yet (the function raised NotImplementedError)", None
        except Exception as exc:  # a learner's bug is a failed case, not a crash of the check
            reason, actual = f"raised {type(exc).__name__}: {exc}", None
        else:
            reason = _compare(actual, case.expected, case.rtol, case.atol)
            if reason is None:
                for k, (a, o) in enumerate(zip(args, originals, strict=True)):
                    if isinstance(o, np.ndarray) and not np.array_equal(a, o):
                        reason = f"modified its input argument {k}; it must not change inputs"
        if reason is None:
            lines.append(f"  pass  {case.name}")
        else:
            failures.append(case.name)
            lines.append(f"  FAIL  {case.name}: {reason}")
            lines.append(f"        expected: {_short(case.expected)}")
            if actual is not None:
                lines.append(f"        actual:   {_short(actual)}")
            lines.append(f"        hint: {case.hint}")
    report = "\n".join(lines)
    if failures:
        raise ExerciseCheckFailed(f"{len(failures)} of {len(cases)} cases failed\n{report}")
    if verbose:
        print(report)
        print(f"All {len(cases)} cases passed.")
    return len(cases)
