"""Numerical gradients by central differences, and checks of hand-written backward passes.

For a scalar function f of an array p, the central difference in coordinate k is::

    df/dp_k  ~  (f(p + eps e_k) - f(p - eps e_k)) / (2 eps)

with error O(eps^2). In float64 with eps = 1e-6 the truncation error (~eps^2) and the
rounding error (~1e-16 / eps) are both near 1e-10, so an analytic gradient that agrees to a
relative error below 1e-7 is right, and a wrong one is off by far more.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from companion import checks

TOLERANCE = 1e-7


class GradientCheckFailed(AssertionError):
    """An analytic gradient disagrees with central differences; the message says where."""


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-12) -> float:
    """``max |a - b| / max(max |a|, max |b|, floor)`` over all entries: one number per comparison.

    The floor keeps the ratio meaningful when both gradients are (close to) zero.
    Raises ValueError if the shapes differ, since a broadcast comparison would be meaningless.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error needs arrays of one shape; got {a.shape} and {b.shape}")
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), floor)
    return float(np.abs(a - b).max(initial=0.0) / scale)


def numerical_gradient(
    f: Callable[[np.ndarray], float], p: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """Central-difference gradient of the scalar ``f(p)`` with respect to the array ``p``.

    ``f`` is called with perturbed copies of ``p``; the caller's array is never modified.
    ``p`` must be float64: in float32 the differences drown in rounding error.
    """
    if not isinstance(p, np.ndarray):
        raise TypeError(f"p must be a numpy array; got {type(p).__name__}")
    if p.dtype != np.float64:
        raise TypeError(f"numerical gradients need a float64 array; got dtype {p.dtype}")
    checks.positive_number("eps", eps)
    q = p.copy()
    grad = np.zeros_like(q)
    for k in np.ndindex(q.shape):
        old = q[k]
        q[k] = old + eps
        f_plus = float(f(q))
        q[k] = old - eps
        f_minus = float(f(q))
        q[k] = old
        grad[k] = (f_plus - f_minus) / (2 * eps)
    return grad


def _assert_close(name: str, analytic: np.ndarray, numeric: np.ndarray, tol: float) -> float:
    err = relative_error(analytic, numeric)
    if not err < tol:
        k = np.unravel_index(np.argmax(np.abs(analytic - numeric)), numeric.shape)
        raise GradientCheckFailed(
            f"gradient of {name} disagrees with central differences: relative error {err:.2e} "
            f"(tolerance {tol:.0e}); worst at index {tuple(int(i) for i in k)}: "
            f"analytic {analytic[k]:.6e}, numerical {numeric[k]:.6e}"
        )
    return err


def check_layer(
    layer: ModuleType,
    x: np.ndarray,
    state0: np.ndarray | tuple[np.ndarray, ...],
    params: dict[str, np.ndarray],
    rng: np.random.Generator,
    tol: float = TOLERANCE,
    **kwargs,
) -> dict[str, float]:
    """Check ``layer.backward`` against central differences for every input and parameter.

    ``layer`` is a module with ``forward(x, state0, params, **kwargs) -> (h_seq, state_T,
    cache)`` and ``backward(dh_seq, dstate_T, cache) -> (dx, dstate0, grads)``, such as
    ``companion.ref.rnn``. The scalar checked is L = sum(w * h_seq) + sum(v * state_T) with
    random weights w and v, so every output of the layer reaches the loss.

    Returns the relative error per array (``x``, ``state0`` or ``state0[i]``, each parameter);
    raises ``GradientCheckFailed`` naming the array and the worst index if any exceeds ``tol``.
    """
    states = state0 if isinstance(state0, tuple) else (state0,)
    for name, a in [("x", x), *((f"state0[{i}]", s) for i, s in enumerate(states))]:
        if not isinstance(a, np.ndarray) or a.dtype != np.float64:
            got = getattr(a, "dtype", type(a).__name__)
            raise TypeError(f"check_layer needs float64 arrays; {name} is {got}")

    def pack(s):
        return s if isinstance(state0, tuple) else s[0]

    h_seq, state_T, cache = layer.forward(x, state0, params, **kwargs)
    states_T = state_T if isinstance(state_T, tuple) else (state_T,)
    w = rng.standard_normal(h_seq.shape)
    v = [rng.standard_normal(s.shape) for s in states_T]

    def loss(x_, states_, params_):
        h, sT, _ = layer.forward(x_, pack(states_), params_, **kwargs)
        sT = sT if isinstance(sT, tuple) else (sT,)
        return float(np.sum(w * h) + sum(np.sum(vi * si) for vi, si in zip(v, sT, strict=True)))

    dx, dstate0, grads = layer.backward(w, pack(tuple(v)), cache)
    dstates = dstate0 if isinstance(dstate0, tuple) else (dstate0,)

    errors = {}
    errors["x"] = _assert_close(
        "x", dx, numerical_gradient(lambda q: loss(q, states, params), x), tol
    )
    for i, s in enumerate(states):
        name = f"state0[{i}]" if isinstance(state0, tuple) else "state0"

        def f(q, i=i):
            return loss(x, states[:i] + (q,) + states[i + 1 :], params)

        errors[name] = _assert_close(name, dstates[i], numerical_gradient(f, s), tol)
    for k, p in params.items():
        errors[k] = _assert_close(
            k,
            grads[k],
            numerical_gradient(lambda q, k=k: loss(x, states, {**params, k: q}), p),
            tol,
        )
    return errors
