"""Numerical gradients by central differences, and the relative error used to compare them.

For a scalar function f of an array p, the central difference in coordinate k is::

    df/dp_k  ~  (f(p + eps e_k) - f(p - eps e_k)) / (2 eps)

with error O(eps^2). In float64 with eps = 1e-6 the truncation error (~eps^2) and the
rounding error (~1e-16 / eps) are both near 1e-10, so an analytic gradient that agrees to a
relative error below 1e-7 is right, and a wrong one is off by far more.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a|, |b|, tiny), taken over all entries: one number per comparison.

    Raises ValueError if the shapes differ, since a broadcast comparison would be meaningless.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"relative_error needs two arrays of one shape; got {a.shape} and {b.shape}"
        )
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), 1e-300)
    return float(np.abs(a - b).max(initial=0.0) / scale)


def numerical_gradient(f: Callable[[], float], p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to the array ``p``.

    ``f`` takes no arguments and reads ``p`` itself; each entry of ``p`` is nudged in place
    and restored before the next, so ``p`` is unchanged on return (also if ``f`` raises).
    ``p`` must be float64: in float32 the differences drown in rounding error.
    """
    if not isinstance(p, np.ndarray):
        raise TypeError(f"p must be a numpy array; got {type(p).__name__}")
    if p.dtype != np.float64:
        raise TypeError(f"numerical gradients need a float64 array; got dtype {p.dtype}")
    if not eps > 0:
        raise ValueError(f"eps must be positive; got {eps!r}")
    if not p.flags.c_contiguous:
        raise ValueError("p must be C-contiguous so that it can be perturbed in place; got a view")
    grad = np.zeros_like(p)
    flat, gflat = p.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        try:
            flat[k] = old + eps
            f_plus = float(f())
            flat[k] = old - eps
            f_minus = float(f())
        finally:
            flat[k] = old
        gflat[k] = (f_plus - f_minus) / (2 * eps)
    return grad
