"""The argument checks of ``companion``, with one rule for each kind of value.

A public function checks its arguments here, at its boundary, so that a wrong type, shape,
dtype or range fails at the call with a message that names what was expected, rather than
broadcasting into a silently wrong result. Each check returns the value, normalised (a numpy
integer becomes an ``int``), so that a call reads ``T = checks.positive_int("T", T)``.

The rules:

- an integer is an ``int`` or a numpy integer, never a ``bool`` (``True`` is not a size) and
  never a float, even an integral one;
- a number is an integer or a float (numpy's included), never a ``bool``, and finite;
- a wrong type raises ``TypeError``, a right type with a wrong value ``ValueError``.

The array checks below them serve ``companion.ref`` (time-major sequences, parameter dicts
keyed ``W_ih``, ``W_hh``, ``b_ih``, ``b_hh``, caches, states). This module imports numpy only,
so that ``companion.ref`` stays free of torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def integer(name: str, v: object, minimum: int | None = None) -> int:
    """``v`` as an ``int`` if it is an integer (not a bool) of at least ``minimum``."""
    if isinstance(v, bool) or not isinstance(v, int | np.integer):
        raise TypeError(f"{name} must be an integer; got {type(v).__name__} {v!r}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {v!r}")
    return int(v)


def positive_int(name: str, v: object) -> int:
    """``v`` as an ``int`` if it is an integer >= 1 (a size, a count, a number of steps)."""
    return integer(name, v, minimum=1)


def number(
    name: str,
    v: object,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``v`` as a ``float`` if it is a finite number in the given range.

    ``low``/``high`` bound the range (None: unbounded), each closed unless ``low_open`` /
    ``high_open``; ``number("p", p, 0, 1, high_open=True)`` accepts 0 <= p < 1.
    """
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number; got {type(v).__name__} {v!r}")
    v = float(v)
    below = low is not None and (v <= low if low_open else v < low)
    above = high is not None and (v >= high if high_open else v > high)
    if not math.isfinite(v) or below or above:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be a finite number in {lo}, {hi}; got {v!r}")
    return v


def positive_number(name: str, v: object) -> float:
    """``v`` as a ``float`` if it is a finite number > 0 (a rate, a scale, a threshold)."""
    return number(name, v, low=0.0, low_open=True)


def one_of(name: str, v: object, options: Sequence) -> object:
    """``v`` if it is one of ``options``."""
    if v not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}; got {v!r}")
    return v


def generator(v: object, name: str = "rng") -> np.random.Generator:
    """``v`` if it is a ``numpy.random.Generator`` (the only source of randomness taken)."""
    if not isinstance(v, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator; got {type(v).__name__}")
    return v


PARAM_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")


def float_array(name: str, a: object) -> np.ndarray:
    """Return ``a`` if it is a floating-point numpy array, else raise TypeError."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of floats; got {type(a).__name__}")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(
            f"{name} must have a floating dtype (float32 or float64); got dtype {a.dtype}"
        )
    return a


def sequence(x: object, name: str = "x") -> tuple[int, int, int]:
    """Check a time-major sequence and return ``(T, B, D)``."""
    x = float_array(name, x)
    if x.ndim != 3:
        raise ValueError(
            f"{name} must have shape (T, B, D) (time-major, 3 dimensions); "
            f"got {x.ndim} dimension(s) with shape {x.shape}"
        )
    T, B, D = x.shape
    if T < 1 or B < 1 or D < 1:
        raise ValueError(f"{name} must have T, B, D >= 1; got shape {x.shape}")
    return T, B, D


def params(p: object, G: int, D: int, family: str) -> int:
    """Check a parameter dict for a cell with ``G`` stacked blocks and input size ``D``.

    Returns the hidden size ``H``, read from ``W_hh``.
    """
    if not isinstance(p, Mapping):
        raise TypeError(f"params must be a dict with keys {PARAM_NAMES}; got {type(p).__name__}")
    missing = [k for k in PARAM_NAMES if k not in p]
    if missing:
        raise ValueError(f"params for {family} is missing {missing}; expected keys {PARAM_NAMES}")
    for k in PARAM_NAMES:
        float_array(f"params[{k!r}]", p[k])
    W_hh = p["W_hh"]
    if W_hh.ndim != 2 or W_hh.shape[0] % G != 0 or W_hh.shape[0] // G != W_hh.shape[1]:
        raise ValueError(
            f"params['W_hh'] for {family} must have shape ({G}*H, H); got {W_hh.shape}"
        )
    H = W_hh.shape[1]
    expected = {"W_ih": (G * H, D), "W_hh": (G * H, H), "b_ih": (G * H,), "b_hh": (G * H,)}
    for k, shape in expected.items():
        if p[k].shape != shape:
            raise ValueError(
                f"params[{k!r}] for {family} with D={D}, H={H} must have shape {shape}; "
                f"got {p[k].shape}"
            )
    return H


def cache(c: object, family: str, module: str) -> dict:
    """Check that ``c`` is the cache that ``companion.ref.<module>.forward`` returned."""
    if not isinstance(c, dict) or c.get("family") != family:
        got = c.get("family") if isinstance(c, dict) else type(c).__name__
        raise ValueError(
            f"cache must come from companion.ref.{module}.forward; got a cache of {got!r}"
        )
    return c


def upstream(dh_seq: object, T: int, B: int, H: int) -> np.ndarray:
    """Check the gradient reaching every output h_t: a float array of shape (T, B, H)."""
    dh_seq = float_array("dh_seq", dh_seq)
    if dh_seq.shape != (T, B, H):
        raise ValueError(f"dh_seq must have shape (T, B, H) = {(T, B, H)}; got {dh_seq.shape}")
    return dh_seq


def state(h: object, B: int, H: int, name: str) -> np.ndarray:
    """Check a state array of shape (B, H)."""
    h = float_array(name, h)
    if h.shape != (B, H):
        raise ValueError(f"{name} must have shape (B, H) = ({B}, {H}); got {h.shape}")
    return h


def same_dtype(**arrays: np.ndarray) -> np.dtype:
    """Require every array to share one dtype (no silent float32/float64 mixing)."""
    dtypes = {name: a.dtype for name, a in arrays.items()}
    first = next(iter(dtypes.values()))
    if any(d != first for d in dtypes.values()):
        listing = ", ".join(f"{n}: {d}" for n, d in dtypes.items())
        raise TypeError(f"all arrays must share one floating dtype; got {listing}")
    return first


def init_params(
    D: int, H: int, G: int, rng: np.random.Generator, dtype: type = np.float64
) -> dict[str, np.ndarray]:
    """Parameters drawn as torch draws them: every entry uniform on (-1/sqrt(H), 1/sqrt(H))."""
    rng = generator(rng)
    D, H = positive_int("D", D), positive_int("H", H)
    k = 1.0 / np.sqrt(H)
    shapes = {"W_ih": (G * H, D), "W_hh": (G * H, H), "b_ih": (G * H,), "b_hh": (G * H,)}
    return {n: rng.uniform(-k, k, size=s).astype(dtype) for n, s in shapes.items()}
