"""Activation functions used in recurrent cells, each beside its derivative.

The derivatives are written in terms of the *output* where that is how backward passes
use them (tanh' = 1 - tanh^2, sigma' = sigma (1 - sigma)), and in terms of the input
otherwise; each function says which.
"""

from __future__ import annotations

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, sigma(a) = 1 / (1 + exp(-a)), range (0, 1).

    Computed as 0.5 * tanh(a / 2) + 0.5, which is the same function and cannot overflow.
    """
    a = np.asarray(a)
    return 0.5 * np.tanh(0.5 * a) + 0.5


def dsigmoid(a: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid with respect to its input: sigma(a) (1 - sigma(a)), at most 1/4."""
    s = sigmoid(a)
    return s * (1.0 - s)


def tanh(a: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, range (-1, 1)."""
    return np.tanh(a)


def dtanh(a: np.ndarray) -> np.ndarray:
    """Derivative of tanh with respect to its input: 1 - tanh(a)^2, at most 1 (at a = 0)."""
    t = np.tanh(a)
    return 1.0 - t * t


def relu(a: np.ndarray) -> np.ndarray:
    """Rectified linear unit, max(a, 0), range [0, inf)."""
    a = np.asarray(a)
    return np.maximum(a, 0.0)


def drelu(a: np.ndarray) -> np.ndarray:
    """Derivative of relu with respect to its input: 1 where a > 0, else 0 (0 at 0, as torch)."""
    a = np.asarray(a)
    return (a > 0).astype(a.dtype if np.issubdtype(a.dtype, np.floating) else np.float64)


#: name -> (function, derivative with respect to the pre-activation)
ACTIVATIONS = {
    "sigmoid": (sigmoid, dsigmoid),
    "tanh": (tanh, dtanh),
    "relu": (relu, drelu),
}


def get(name: str):
    """Return ``(phi, dphi)`` for an activation name: 'sigmoid', 'tanh' or 'relu'."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]
