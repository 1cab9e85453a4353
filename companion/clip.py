"""Gradient clipping by global norm and by value, for numpy gradient dicts and torch parameters,
and the rule both training loops follow for a gradient that is not finite.

Clipping by global norm (Pascanu, Mikolov and Bengio 2013) rescales all gradients together
when their joint Euclidean norm exceeds a threshold c::

    n = sqrt(sum_k ||g_k||^2)           the global norm, over every array k
    g_k <- g_k * c / n   if n > c       the direction is kept; only the length is capped

Clipping by value caps each entry separately, g <- min(max(g, -c), c); it can change the
direction of the update. Both return the global norm n *before* clipping, the number to log.

The norm is computed as LAPACK's ``nrm2`` does, scaled by the largest magnitude m::

    n = m sqrt(sum_i (g_i / m)^2),   m = max_i |g_i|

in float64, so that finite gradients near the float limit (float64 entries of 1e200, whose
squares overflow) give their true norm instead of a spurious inf. Only a norm beyond the
largest float64 (about 1.8e308) is inf while every entry is finite.

**The non-finite rule.** If n is inf or NaN, no rescaling can give a usable update (inf * 0
and NaN * anything are NaN), and applying the gradient as it is writes inf or NaN into every
weight that Adam touches: the run is lost for good. So an update whose gradient norm is not
finite is *skipped*, with or without clipping (``usable``): the weights and the optimiser's
state stay as they were, the step is counted in ``History.skipped``, and a state carried
across windows restarts from zeros. Both ``companion.train.train`` and
``companion.charlm.train`` follow it. The clipping functions never clip a non-finite
gradient: with ``nonfinite="raise"`` (the default) they raise ``NonFiniteGradientError``; with
``nonfinite="report"`` they return the gradients untouched with the non-finite norm.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from companion import checks

MODES = (None, "norm", "value")  # no clipping, by global norm, by value
NONFINITE = ("raise", "report")


class NonFiniteGradientError(FloatingPointError):
    """The global gradient norm is inf or NaN; the message says which arrays are to blame."""


def usable(norm: float) -> bool:
    """The non-finite rule: an update is applied only if its gradient norm is finite."""
    return math.isfinite(norm)


def _norm(arrays: Iterable[np.ndarray]) -> float:
    """m * sqrt(sum (g / m)^2) over every entry, in float64, m the largest magnitude."""
    flats = [np.asarray(g, dtype=np.float64).ravel() for g in arrays]
    flat = np.concatenate(flats) if flats else np.zeros(0)
    m = float(np.max(np.abs(flat), initial=0.0))  # NaN if any entry is NaN
    if m == 0.0 or not math.isfinite(m):
        return m
    return m * math.sqrt(float(np.sum(np.square(flat / m))))


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """sqrt(sum_k sum_i g_k[i]^2) over every array of a numpy gradient dict (0.0 if empty)."""
    return _norm(_check_grads(grads).values())


def torch_global_norm(parameters: Iterable) -> float:
    """The global norm of the ``.grad`` of torch parameters (those without a grad are skipped)."""
    return _norm(p.grad.detach().cpu().double().numpy() for p in _torch_grads(parameters))


def clip_by_global_norm(
    grads: Mapping[str, np.ndarray], max_norm: float, nonfinite: str = "raise"
) -> tuple[dict[str, np.ndarray], float]:
    """Rescale a numpy gradient dict so that its global norm is at most ``max_norm``.

    Returns ``(clipped, norm)``: new arrays (the input is not modified) and the global norm
    before clipping. A zero gradient is returned as zeros (no division by zero). A non-finite
    norm raises ``NonFiniteGradientError``, or with ``nonfinite="report"`` returns copies of
    the unchanged gradients and the non-finite norm.
    """
    norm = global_norm(grads)
    c = _threshold("max_norm", max_norm, nonfinite, norm, lambda: _nonfinite_keys(grads))
    scale = c / norm if usable(norm) and norm > c else 1.0
    return {k: g * g.dtype.type(scale) for k, g in grads.items()}, norm


def clip_by_value(
    grads: Mapping[str, np.ndarray], clip_value: float, nonfinite: str = "raise"
) -> tuple[dict[str, np.ndarray], float]:
    """Clamp every entry of a numpy gradient dict to [-clip_value, clip_value].

    Returns ``(clipped, norm)`` with the global norm before clipping; non-finite gradients are
    handled as in ``clip_by_global_norm`` (an inf entry would otherwise be clamped to a finite
    value and hide the problem).
    """
    norm = global_norm(grads)
    c = _threshold("clip_value", clip_value, nonfinite, norm, lambda: _nonfinite_keys(grads))
    if not usable(norm):
        return {k: g.copy() for k, g in grads.items()}, norm
    return {k: np.clip(g, -c, c) for k, g in grads.items()}, norm


def clip_grad_norm_(parameters: Iterable, max_norm: float, nonfinite: str = "raise") -> float:
    """Clip the ``.grad`` of torch parameters by global norm, in place; return the norm before.

    The same rule as ``clip_by_global_norm`` (and as ``torch.nn.utils.clip_grad_norm_``), but a
    non-finite norm raises ``NonFiniteGradientError`` or, with ``nonfinite="report"``, leaves
    the gradients untouched and returns the non-finite norm so that the caller skips the step.
    """
    import torch

    params = _torch_grads(parameters)
    norm = torch_global_norm(params)
    c = _threshold("max_norm", max_norm, nonfinite, norm, lambda: _nonfinite_shapes(params))
    if usable(norm) and norm > c:
        with torch.no_grad():
            for p in params:
                p.grad.mul_(c / norm)
    return norm


def clip_grad_value_(parameters: Iterable, clip_value: float, nonfinite: str = "raise") -> float:
    """Clamp the ``.grad`` of torch parameters to [-clip_value, clip_value], in place.

    Returns the global norm before clipping; non-finite norms as in ``clip_grad_norm_``.
    """
    import torch

    params = _torch_grads(parameters)
    norm = torch_global_norm(params)
    c = _threshold("clip_value", clip_value, nonfinite, norm, lambda: _nonfinite_shapes(params))
    if usable(norm):
        with torch.no_grad():
            for p in params:
                p.grad.clamp_(-c, c)
    return norm


def by_mode(
    grads: Mapping[str, np.ndarray], mode: str | None, at: float
) -> tuple[dict[str, np.ndarray], float]:
    """Clip a numpy gradient dict by ``mode`` (one of ``MODES``) at ``at``: the loop's call.

    Returns ``(grads, norm)``. A non-finite norm is returned with the gradients untouched
    (``nonfinite="report"``) for the caller to skip the update, as ``usable`` says;
    ``mode=None`` only measures the norm.
    """
    checks.one_of("mode", mode, MODES)
    if mode is None:
        return dict(grads), global_norm(grads)
    fn = clip_by_global_norm if mode == "norm" else clip_by_value
    return fn(grads, at, nonfinite="report")


def by_mode_(parameters: Iterable, mode: str | None, at: float) -> float:
    """``by_mode`` for the ``.grad`` of torch parameters, in place; returns the norm before."""
    checks.one_of("mode", mode, MODES)
    if mode is None:
        return torch_global_norm(parameters)
    fn = clip_grad_norm_ if mode == "norm" else clip_grad_value_
    return fn(parameters, at, nonfinite="report")


def _threshold(name: str, c: float, nonfinite: str, norm: float, bad) -> float:
    """Check a clip's threshold and mode; raise for a non-finite ``norm`` if asked to.

    ``bad()`` names the arrays with non-finite entries, for the message.
    """
    c = checks.positive_number(name, c)
    checks.one_of("nonfinite", nonfinite, NONFINITE)
    if nonfinite == "raise" and not usable(norm):
        _raise(norm, bad())
    return c


def _raise(norm: float, bad: list) -> None:
    where = (
        f"non-finite entries in {bad}"
        if bad
        else "every entry is finite, but the norm exceeds the largest float64"
    )
    raise NonFiniteGradientError(
        f"global gradient norm is {norm}; {where}. Not clipping: scaling would write NaN into "
        "the weights (pass nonfinite='report' to skip the step)"
    )


def _nonfinite_keys(grads: Mapping[str, np.ndarray]) -> list[str]:
    return [k for k, g in grads.items() if not np.isfinite(g).all()]


def _nonfinite_shapes(params: list) -> list[tuple]:
    return [tuple(p.shape) for p in params if not p.grad.isfinite().all()]


def _check_grads(grads: object) -> Mapping[str, np.ndarray]:
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of numpy arrays; got {type(grads).__name__}")
    for k, g in grads.items():
        checks.float_array(f"grads[{k!r}]", g)
    return grads


def _torch_grads(parameters: Iterable) -> list:
    import torch

    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"parameters must be torch tensors; got {type(p).__name__}")
    return [p for p in params if p.grad is not None]
