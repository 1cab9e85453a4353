"""Gradient clipping by global norm and by value, for numpy gradient dicts and torch parameters.

Clipping by global norm (Pascanu, Mikolov and Bengio 2013) rescales all gradients together
when their joint Euclidean norm exceeds a threshold c::

    n = sqrt(sum_k ||g_k||^2)           the global norm, over every array k
    g_k <- g_k * c / n   if n > c       the direction is kept; only the length is capped

Clipping by value caps each entry separately, g <- min(max(g, -c), c); it can change the
direction of the update. Both return the global norm n *before* clipping, the number to log.

Non-finite gradients. If n is inf or NaN, no rescaling can give a usable update (inf * 0 and
NaN * anything are NaN), so a silent clip would write NaN into the weights. These functions
therefore never clip a non-finite gradient. With ``nonfinite="raise"`` (the default) they raise
``NonFiniteGradientError``; with ``nonfinite="report"`` they return the gradients untouched
together with the non-finite norm, and the caller must skip the update (``companion.train``
does, and counts the skipped steps).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

NONFINITE = ("raise", "report")


class NonFiniteGradientError(FloatingPointError):
    """The global gradient norm is inf or NaN; the message says which arrays are to blame."""


def _check_threshold(name: str, c: float) -> float:
    if isinstance(c, bool) or not isinstance(c, int | float | np.floating | np.integer):
        raise TypeError(f"{name} must be a positive number; got {type(c).__name__}")
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"{name} must be a positive finite number; got {c!r}")
    return float(c)


def _check_mode(nonfinite: str) -> None:
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}; got {nonfinite!r}")


def _check_grads(grads: object) -> Mapping[str, np.ndarray]:
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of numpy arrays; got {type(grads).__name__}")
    for k, g in grads.items():
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            got = getattr(g, "dtype", type(g).__name__)
            raise TypeError(f"grads[{k!r}] must be a floating numpy array; got {got}")
    return grads


def _nonfinite(norm: float, names: list[str], nonfinite: str) -> None:
    if math.isfinite(norm) or nonfinite == "report":
        return
    raise NonFiniteGradientError(
        f"global gradient norm is {norm}; non-finite entries in {names}. Not clipping: "
        "scaling would write NaN into the weights (pass nonfinite='report' to skip the step)"
    )


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """sqrt(sum_k sum_i g_k[i]^2) over every array of a numpy gradient dict (0.0 if empty).

    Computed in float64 as m * sqrt(sum (g / m)^2) with m the largest magnitude, so that
    finite gradients near the float limit do not overflow into a spurious inf.
    """
    grads = _check_grads(grads)
    arrays = [np.asarray(g, dtype=np.float64).ravel() for g in grads.values()]
    flat = np.concatenate(arrays) if arrays else np.zeros(0)
    m = float(np.max(np.abs(flat), initial=0.0))
    if m == 0.0 or not math.isfinite(m):
        return m if not np.isnan(flat).any() else float("nan")
    return m * math.sqrt(float(np.sum(np.square(flat / m))))  # scaled: no overflow near 1e308


def clip_by_global_norm(
    grads: Mapping[str, np.ndarray], max_norm: float, nonfinite: str = "raise"
) -> tuple[dict[str, np.ndarray], float]:
    """Rescale a numpy gradient dict so that its global norm is at most ``max_norm``.

    Returns ``(clipped, norm)``: new arrays (the input is not modified) and the global norm
    before clipping. A zero gradient is returned as zeros (no division by zero). A non-finite
    norm raises ``NonFiniteGradientError``, or with ``nonfinite="report"`` returns copies of
    the unchanged gradients and the non-finite norm.
    """
    c = _check_threshold("max_norm", max_norm)
    _check_mode(nonfinite)
    norm = global_norm(grads)
    bad = [k for k, g in grads.items() if not np.all(np.isfinite(g))]
    _nonfinite(norm, bad, nonfinite)
    scale = c / norm if math.isfinite(norm) and norm > c else 1.0
    return {k: g * g.dtype.type(scale) for k, g in grads.items()}, norm


def clip_by_value(
    grads: Mapping[str, np.ndarray], clip_value: float, nonfinite: str = "raise"
) -> tuple[dict[str, np.ndarray], float]:
    """Clamp every entry of a numpy gradient dict to [-clip_value, clip_value].

    Returns ``(clipped, norm)`` with the global norm before clipping; non-finite gradients are
    handled as in ``clip_by_global_norm`` (an inf entry would otherwise be clamped to a finite
    value and hide the problem).
    """
    c = _check_threshold("clip_value", clip_value)
    _check_mode(nonfinite)
    norm = global_norm(grads)
    bad = [k for k, g in grads.items() if not np.all(np.isfinite(g))]
    _nonfinite(norm, bad, nonfinite)
    if not math.isfinite(norm):
        return {k: g.copy() for k, g in grads.items()}, norm
    return {k: np.clip(g, -c, c) for k, g in grads.items()}, norm


def _torch_grads(parameters: Iterable) -> list:
    import torch

    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    params = list(parameters)
    for p in params:
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"parameters must be torch tensors; got {type(p).__name__}")
    return [p for p in params if p.grad is not None]


def torch_global_norm(parameters: Iterable) -> float:
    """The global norm of the ``.grad`` of torch parameters (those without a grad are skipped)."""
    total = sum(float(p.grad.detach().double().pow(2).sum()) for p in _torch_grads(parameters))
    return math.sqrt(total)


def clip_grad_norm_(parameters: Iterable, max_norm: float, nonfinite: str = "raise") -> float:
    """Clip the ``.grad`` of torch parameters by global norm, in place; return the norm before.

    The same rule as ``clip_by_global_norm`` (and as ``torch.nn.utils.clip_grad_norm_``), but a
    non-finite norm raises ``NonFiniteGradientError`` or, with ``nonfinite="report"``, leaves
    the gradients untouched and returns the non-finite norm so that the caller skips the step.
    """
    import torch

    c = _check_threshold("max_norm", max_norm)
    _check_mode(nonfinite)
    params = _torch_grads(parameters)
    norm = torch_global_norm(params)
    _nonfinite(
        norm, [tuple(p.shape) for p in params if not torch.isfinite(p.grad).all()], nonfinite
    )
    if math.isfinite(norm) and norm > c:
        with torch.no_grad():
            for p in params:
                p.grad.mul_(c / norm)
    return norm


def clip_grad_value_(parameters: Iterable, clip_value: float, nonfinite: str = "raise") -> float:
    """Clamp the ``.grad`` of torch parameters to [-clip_value, clip_value], in place.

    Returns the global norm before clipping; non-finite norms as in ``clip_grad_norm_``.
    """
    import torch

    c = _check_threshold("clip_value", clip_value)
    _check_mode(nonfinite)
    params = _torch_grads(parameters)
    norm = torch_global_norm(params)
    _nonfinite(
        norm, [tuple(p.shape) for p in params if not torch.isfinite(p.grad).all()], nonfinite
    )
    if math.isfinite(norm):
        with torch.no_grad():
            for p in params:
                p.grad.clamp_(-c, c)
    return norm
