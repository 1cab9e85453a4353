"""The engine behind every exercise check: run cases, report each, raise on failure.

A check also knows what its exercise asks the learner to write by hand (:func:`by_hand`): the
learner's function is run with the profiler watching for calls of the companion's reference
implementation of exactly that (or of autograd, for a hand-written gradient), and a case whose
call reached one fails, however the callable was named (an alias, ``getattr``, a wrapper).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import threading
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Gradients computed for the learner, by torch's autograd (``Tensor.backward`` and
#: ``torch.func`` end in these) or by the companion's finite differences.
AUTOGRAD = (
    "torch.autograd.grad",
    "torch.autograd.backward",
    "torch.Tensor.backward",
    "torch.autograd.variable.Variable._execution_engine.run_backward",
    "torch.autograd.functional",
    "torch.func.grad",
    "torch.func.grad_and_value",
    "torch.func.vjp",
    "torch.func.jacrev",
    "torch.func.jacfwd",
    "companion.gradcheck.numerical_gradient",
)
#: torch's recurrent layers and cells (a class stands for its methods and its torch bases').
TORCH_LAYERS = tuple(
    f"torch.nn.{name}" for name in ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
)
#: The companion's torch layers.
COMPANION_LAYERS = tuple(
    f"companion.nn.{name}" for name in ("LSTM", "LSTMCell", "GRU", "GRUCell", "Stacked")
)
#: What counts parameters for the learner, the companion's counts and any built layer.
COUNTS = (
    "companion.families.Family.count",
    "companion.ref.lstm.count_params",
    "companion.ref.gru.count_params",
    *TORCH_LAYERS,
    *COMPANION_LAYERS,
)
#: (D, H) of the layers whose parameters the counting exercises count.
LAYER_SIZES = [(1, 1), (2, 64), (10, 20), (128, 256), (3, 1)]
#: Softmax and cross-entropy, the companion's and torch's.
SOFTMAX = (
    "companion.ref.readout.softmax",
    "companion.ref.readout.log_softmax",
    "companion.ref.readout.softmax_cross_entropy",
    "torch.nn.functional.softmax",
    "torch.nn.functional.log_softmax",
    "torch.nn.functional.cross_entropy",
)


UNWATCHED = "your function called sys.setprofile, which stops the check from watching it"


class ExerciseCheckFailed(AssertionError):
    """Raised when at least one case of an exercise check fails; the message lists them."""


class Delegated(Exception):
    """The learner's function called what its exercise asks to be written by hand."""


@dataclass(frozen=True)
class ByHand:
    """What an exercise asks the learner to write by hand, as the callables that compute it.

    ``forbidden`` and ``allowed`` are dotted names: a function, a class (its methods and those
    of its bases from the same package: ``torch.nn.LSTM`` includes ``RNNBase.__init__``) or a
    module (every function of its file). ``allowed`` lists the companion pieces the exercise
    itself tells the learner to use; they are never watched.
    """

    what: str  # "the backward pass through time"
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()

    def message(self, name: str) -> str:
        """The reason a case fails when the learner's function called ``name``."""
        return (
            f"your function called {name}, which is what this exercise asks you to write by "
            f"hand ({self.what})"
        )

    def watch(self, fn: Any) -> Any:
        """``fn`` wrapped so that a call reaching a forbidden callable raises :class:`Delegated`.

        Only the learner's calls are watched: the check's own reference computations, outside
        ``fn``, are not. Anything that is not callable is returned as it is.
        """
        if not callable(fn) or not self.forbidden:
            return fn
        table = _WatchTable(self.forbidden)

        @functools.wraps(fn)
        def watched(*args, **kwargs):
            seen: list[str] = []

            def hook(frame, event, arg):
                found = None
                if event == "call":
                    names = table.code.get(frame.f_code.co_filename)
                    if names is not None:
                        qualname = frame.f_code.co_qualname
                        module = names.get(None)  # a forbidden module: any of its functions
                        found = f"{module}.{qualname}" if module else names.get(qualname)
                elif event == "c_call" and frame.f_code is not watched.__code__:
                    if arg is sys.setprofile:
                        seen.append(UNWATCHED)
                    found = table.builtins.get(getattr(arg, "__qualname__", None))
                elif event == "return" and table.pending and frame.f_code.co_name == "<module>":
                    table.arrived(frame.f_globals.get("__name__"))
                if found and not seen:
                    seen.append(self.message(found))

            _check_profiler()
            before, before_threads = sys.getprofile(), threading.getprofile()
            threading.setprofile(hook)
            sys.setprofile(hook)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                sys.setprofile(before)
                threading.setprofile(before_threads)
                if seen:
                    raise Delegated(seen[0]) from exc
                raise
            sys.setprofile(before)
            threading.setprofile(before_threads)
            if seen:
                raise Delegated(seen[0])
            return result

        return watched


def by_hand(
    what: str, forbidden: Sequence[str], allowed: Sequence[str] = ()
) -> Callable[[Callable], Callable]:
    """Declare what a check's exercise asks to be written by hand (see :class:`ByHand`).

    The decorated check watches the learner's function for calls of ``forbidden``; the
    declaration is its attribute ``by_hand``, which the grader reads too.
    """
    declaration = ByHand(what, tuple(forbidden), tuple(allowed))
    clash = set(declaration.forbidden) & set(declaration.allowed)
    if clash:
        raise ValueError(f"{sorted(clash)} both forbidden and allowed")

    def decorate(check: Callable) -> Callable:
        @functools.wraps(check)
        def checked(fn: Callable) -> None:
            return check(declaration.watch(fn))

        checked.by_hand = declaration
        return checked

    return decorate


def _check_profiler() -> None:
    """Refuse to watch if ``sys.setprofile`` is not the interpreter's own."""
    hook = sys.setprofile
    genuine = isinstance(hook, types.BuiltinFunctionType) and hook.__self__ is sys
    if not (genuine and hook.__name__ == "setprofile"):
        raise RuntimeError("sys.setprofile was replaced; the check cannot watch your function")


def _import(name: str) -> Any:
    """The object a dotted name stands for, or None when its top package is not installed."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ModuleNotFoundError as exc:
            if exc.name == parts[0]:
                return None
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    return None  # pragma: no cover - the loop returns for any importable first part


def _functions(obj: Any) -> list[Any]:
    """The Python functions a forbidden class stands for: its own and its bases' methods."""
    root = obj.__module__.split(".")[0]
    classes = [
        c
        for c in obj.__mro__
        if c.__module__.split(".")[0] == root and c.__module__ != "torch.nn.modules.module"
    ]
    found = []
    for cls in classes:
        for value in vars(cls).values():
            value = value.__func__ if isinstance(value, staticmethod | classmethod) else value
            if isinstance(value, types.FunctionType):
                found.append(value)
    return found


class _WatchTable:
    """``code[file][qualname or None]`` and ``builtins[qualname]``: the forbidden name of each.

    Code is matched by file and qualified name, not by identity, so that a function of a module
    imported again (the grader drops ``companion`` from ``sys.modules``) is still recognised.
    A name whose top package is not imported yet (torch, in a notebook that never imports it)
    waits in ``pending`` until that package's import finishes (:meth:`arrived`), so that a
    check does not import torch for a learner who does not use it.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.code: dict[str, dict[str | None, str]] = {}
        self.builtins: dict[str, str] = {}
        self.pending: dict[str, list[str]] = {}
        for name in names:
            top = name.split(".")[0]
            if top in sys.modules:
                self._add(name)
            else:
                self.pending.setdefault(top, []).append(name)

    def arrived(self, module: str | None) -> None:
        """Resolve the names waiting for ``module``, a top package whose import just ended."""
        for name in self.pending.pop(module, []) if module in sys.modules else []:
            self._add(name)

    def _add(self, name: str) -> None:
        obj = _import(name)
        if obj is None:
            return
        if isinstance(obj, types.ModuleType):
            self.code.setdefault(obj.__file__, {})[None] = name
            return
        for fn in _functions(obj) if isinstance(obj, type) else [inspect.unwrap(obj)]:
            code = getattr(fn, "__code__", None)
            if code is None:
                self.builtins.setdefault(fn.__qualname__, name)
            else:
                self.code.setdefault(code.co_filename, {}).setdefault(code.co_qualname, name)


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


def table_cases(
    rows: Sequence[tuple], build: Callable[..., tuple[tuple, Any]], hint: str, **tolerance: float
) -> list[Case]:
    """One :class:`Case` per row ``(name, *values)``, with ``(args, expected) = build(*values)``."""
    return [Case(name, *build(*values), hint, **tolerance) for name, *values in rows]


def reference_cases(
    reference: Callable, labels: Sequence[str], rows: Sequence[tuple], hint: str
) -> list[Case]:
    """One :class:`Case` per row of arguments, expected ``reference(*row)``, named after the
    row: ``"D=2, H=64"`` for labels ``("D", "H")`` (an empty label shows the value alone)."""
    cases = []
    for row in rows:
        name = ", ".join(f"{k}={v}" if k else str(v) for k, v in zip(labels, row, strict=True))
        cases.append(Case(name, tuple(row), reference(*row), hint))
    return cases


def random_logits(shape: tuple[int, int, int], scale: float, seed: int):
    """``(logits, targets)``: scores (T, B, V) of standard deviation ``scale``, targets (T, B)."""
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal(shape)
    return logits, rng.integers(0, shape[-1], size=shape[:2])


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
            if np.isnan(actual).any() and not np.isnan(expected).any():
                k = tuple(int(i) for i in np.argwhere(np.isnan(actual))[0])
                return f"values differ: NaN at {k}, expected {expected[k]!r}"
            same_inf = np.isinf(expected) & (actual == expected)
            if not np.array_equal(np.isinf(actual) & ~same_inf, np.isinf(expected) & ~same_inf):
                k = np.argwhere(np.isinf(actual) != np.isinf(expected))[0]
                return (
                    f"values differ: at {tuple(int(i) for i in k)} {actual[tuple(k)]!r}, "
                    f"expected {expected[tuple(k)]!r}"
                )
            with np.errstate(invalid="ignore"):
                diff = np.where(same_inf, 0.0, np.abs(actual - expected))
            return f"values differ (max abs difference {np.nanmax(diff):.3g})"
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

    Returns the number of cases passed (all of them, when it returns). A case in which ``fn``
    called what its exercise asks to be written by hand (``fn`` watched by :func:`by_hand`)
    fails, and the first such reason heads the message of the exception.
    """
    if not callable(fn):
        raise TypeError(f"{title}: expected a function to check; got {type(fn).__name__}")
    failures, delegated = [], []
    lines = [f"{title}:"]
    for case in cases:
        originals = _copy_args(case.args)
        args = _copy_args(case.args)
        try:
            actual = fn(*args, **case.kwargs)
        except Delegated as exc:
            reason, actual = str(exc), None
            delegated.append(reason)
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
            if delegated and reason == delegated[0]:
                lines.append(f"  FAIL  {case.name}: the call named in the first line")
            else:
                lines.append(f"  FAIL  {case.name}: {reason}")
                lines.append(f"        expected: {_short(case.expected)}")
            if actual is not None:
                lines.append(f"        actual:   {_short(actual)}")
            lines.append(f"        hint: {case.hint}")
    report = "\n".join(lines)
    if failures:
        headline = f"{delegated[0]}\n" if delegated else ""
        raise ExerciseCheckFailed(
            f"{headline}{len(failures)} of {len(cases)} cases failed\n{report}"
        )
    if verbose:
        print(report)
        print(f"All {len(cases)} cases passed.")
    return len(cases)
