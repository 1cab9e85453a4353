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


def integer(name: str, v: object, minimum: int | None = None, maximum: int | None = None) -> int:
    """``v`` as an ``int`` if it is an integer (not a bool) from ``minimum`` to ``maximum``."""
    if isinstance(v, bool) or not isinstance(v, int | np.integer):
        raise TypeError(f"{name} must be an integer; got {type(v).__name__} {v!r}")
    if maximum is not None and (v > maximum or (minimum is not None and v < minimum)):
        raise ValueError(f"{name} must be an integer from {minimum} to {maximum}; got {v!r}")
    if minimum is not None and v < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}; got {v!r}")
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
        positive = (lo, hi) == ("(0", "inf)")
        what = "a positive finite number" if positive else f"a finite number in {lo}, {hi}"
        raise ValueError(f"{name} must be {what}; got {v!r}")
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
    """Check a time-major sequence and return ``(T, B, D)``; an empty one (T = 0) is rejected."""
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


def state(h: object, B: int, H: int, name: str) -> np.ndarray:
    """Check a state array of shape (B, H)."""
    h = float_array(name, h)
    if h.shape != (B, H):
        raise ValueError(f"{name} must have shape (B, H) = ({B}, {H}); got {h.shape}")
    return h


def states(s: object, B: int, H: int, names: tuple[str, ...], allow_none: bool = False):
    """Check a layer's state: one (B, H) array for one name, a pair such as the LSTM's
    (h, c) for two. With ``allow_none`` (gradients of a final state) an array may be None."""
    if len(names) == 1:
        return None if s is None and allow_none else state(s, B, H, names[0])
    what = f"a pair ({', '.join(names)}) of arrays of shape (B, H) = ({B}, {H})"
    if not isinstance(s, tuple | list) or len(s) != len(names):
        got = type(s).__name__
        got = f"a single array of shape {s.shape}" if isinstance(s, np.ndarray) else got
        got = f"length {len(s)}" if isinstance(s, tuple | list) else got
        raise TypeError(f"the state must be {what}; got {got}")
    return tuple(
        None if a is None and allow_none else state(a, B, H, n)
        for n, a in zip(names, s, strict=True)
    )


def same_dtype(**arrays: np.ndarray) -> np.dtype:
    """Require every array to share one dtype (no silent float32/float64 mixing)."""
    dtypes = {name: a.dtype for name, a in arrays.items()}
    first = next(iter(dtypes.values()))
    if any(d != first for d in dtypes.values()):
        listing = ", ".join(f"{n}: {d}" for n, d in dtypes.items())
        raise TypeError(f"all arrays must share one floating dtype; got {listing}")
    return first


def forward_args(
    x: object, state0: object, p: object, G: int, family: str, pair: bool = False
) -> tuple[int, int, int, int, object]:
    """The checks of a ``companion.ref`` forward; returns ``(T, B, D, H, state0)``.

    ``x`` a time-major sequence (T, B, D) with T >= 1; ``p`` the parameters of a cell with
    ``G`` blocks; ``state0`` an array h0 of shape (B, H), or with ``pair`` the pair (h0, c0),
    or None for zeros (returned). Every array must share the parameters' dtype.
    """
    T, B, D = sequence(x)
    H = params(p, G, D, family)
    names = ("h0", "c0") if pair else ("h0",)
    if state0 is None:
        zeros = tuple(np.zeros((B, H), dtype=x.dtype) for _ in names)
        state0 = zeros if pair else zeros[0]
    s = states(state0, B, H, names)
    same_dtype(x=x, **dict(zip(names, s if pair else (s,), strict=True)), **p)
    return T, B, D, H, s


def step_args(x_t: object, prev: object, p: object, G: int, family: str, pair: bool = False):
    """The checks of a ``companion.ref`` step; returns the state.

    ``x_t`` (B, D); ``prev`` h_prev (B, H), or with ``pair`` the pair (h_prev, c_prev).
    """
    x_t = float_array("x_t", x_t)
    if x_t.ndim != 2:
        raise ValueError(f"x_t must have shape (B, D); got shape {x_t.shape}")
    B, D = x_t.shape
    H = params(p, G, D, family)
    names = ("h_prev", "c_prev") if pair else ("h_prev",)
    s = states(prev, B, H, names)
    same_dtype(x_t=x_t, **dict(zip(names, s if pair else (s,), strict=True)), **p)
    return s


def cache(c: object, family: str, forward: str | None = None) -> dict:
    """Check that ``c`` is the cache that ``companion.ref.<family>.forward`` returned (or the
    function named ``forward``, whose caches carry ``family`` as their tag)."""
    if not isinstance(c, dict) or c.get("family") != family:
        got = c.get("family") if isinstance(c, dict) else type(c).__name__
        source = forward or f"companion.ref.{family}.forward"
        raise ValueError(f"cache must come from {source}; got a cache of {got!r}")
    return c


def backward_args(
    dh_seq: object, dstate_T: object, c: object, family: str, pair: bool = False
) -> tuple[int, int, int, np.ndarray, object]:
    """The checks of a ``companion.ref`` backward; returns ``(T, B, H, dh_seq, dstate_T)``.

    ``c`` the cache of ``family``'s forward; ``dh_seq`` (T, B, H); ``dstate_T`` dh_T of shape
    (B, H), or with ``pair`` the pair (dh_T, dc_T); None stands for zeros, and None for a
    pair becomes (None, None).
    """
    cache(c, family)
    T, B, _ = c["x"].shape
    H = c["params"]["W_hh"].shape[1]
    dh_seq = float_array("dh_seq", dh_seq)
    if dh_seq.shape != (T, B, H):
        raise ValueError(f"dh_seq must have shape (T, B, H) = {(T, B, H)}; got {dh_seq.shape}")
    if pair:
        dstate_T = (None, None) if dstate_T is None else dstate_T
        return T, B, H, dh_seq, states(dstate_T, B, H, ("dh_T", "dc_T"), allow_none=True)
    return T, B, H, dh_seq, states(dstate_T, B, H, ("dh_T",), allow_none=True)


def init_params(
    D: int,
    H: int,
    G: int,
    rng: np.random.Generator,
    dtype: type = np.float64,
    bias_offsets: Mapping[int, float] | None = None,
) -> dict[str, np.ndarray]:
    """Parameters drawn as torch draws them: every entry uniform on (-1/sqrt(H), 1/sqrt(H)).

    ``bias_offsets`` maps a block's index to a constant then added to that block of ``b_ih``
    (the LSTM's forget-gate bias is ``{1: forget_bias}``).
    """
    rng = generator(rng)
    D, H = positive_int("D", D), positive_int("H", H)
    offsets = dict(bias_offsets or {})
    for block, offset in offsets.items():
        number(f"the bias offset of block {block}", offset)
    k = 1.0 / np.sqrt(H)
    shapes = {"W_ih": (G * H, D), "W_hh": (G * H, H), "b_ih": (G * H,), "b_hh": (G * H,)}
    p = {n: rng.uniform(-k, k, size=s).astype(dtype) for n, s in shapes.items()}
    for block, offset in offsets.items():
        p["b_ih"][block * H : (block + 1) * H] += offset
    return p
