"""Optimisers for numpy parameter dicts: plain SGD and Adam, updating the arrays in place.

SGD::

    theta <- theta - lr g

Adam (Kingma and Ba 2015), at step t = 1, 2, ... with gradient g_t::

    m_t = beta1 m_{t-1} + (1 - beta1) g_t              first moment (mean of g)
    v_t = beta2 v_{t-1} + (1 - beta2) g_t^2            second moment (uncentred variance)
    m_hat = m_t / (1 - beta1^t),  v_hat = v_t / (1 - beta2^t)     bias correction (m_0 = v_0 = 0)
    theta <- theta - lr m_hat / (sqrt(v_hat) + eps)

This is ``torch.optim.Adam`` with its defaults (no weight decay, no AMSGrad): the same
parameters and gradients give the same updates. Both optimisers hold a reference to the
caller's dict and update its arrays in place, so the model sees the new values without any
copying back. The gradient dict must have the keys, shapes and dtypes of the parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from companion import checks


class SGD:
    """Stochastic gradient descent: theta <- theta - lr g, in place on ``params``' arrays."""

    def __init__(self, params: dict[str, np.ndarray], lr: float) -> None:
        self.params = _check_params(params)
        self.lr = checks.positive_number("lr", lr)
        self.t = 0

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        """Apply one update with ``grads`` (keys, shapes and dtypes of ``params``)."""
        _check_grads(self.params, grads)
        for k, p in self.params.items():
            p -= p.dtype.type(self.lr) * grads[k]
        self.t += 1


class Adam:
    """Adam with bias correction (Kingma and Ba 2015), as ``torch.optim.Adam``.

    Args:
        params: dict of floating arrays, updated in place by ``step``.
        lr: step size (alpha in the paper).
        betas: decay rates (beta1, beta2) of the first and second moment estimates, in [0, 1).
        eps: added to sqrt(v_hat) to avoid dividing by zero.

    The moments ``m`` and ``v`` are kept per parameter, in the parameter's dtype; ``t`` counts
    the steps taken.
    """

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = _check_params(params)
        self.lr = checks.positive_number("lr", lr)
        self.eps = checks.positive_number("eps", eps)
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2); got {betas!r}")
        self.betas = tuple(
            checks.number(f"betas[{i}]", b, 0, 1, high_open=True) for i, b in enumerate(betas)
        )
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.t = 0

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        """Apply one Adam update with ``grads`` (keys, shapes and dtypes of ``params``)."""
        _check_grads(self.params, grads)
        self.t += 1
        beta1, beta2 = self.betas
        bias1 = 1.0 - beta1**self.t
        bias2 = 1.0 - beta2**self.t
        step_size = self.lr / bias1  # lr / (1 - beta1^t), folding m_hat's correction in
        sqrt_bias2 = math.sqrt(bias2)
        for k, p in self.params.items():
            g, m, v = grads[k], self.m[k], self.v[k]
            f = p.dtype.type
            m *= f(beta1)
            m += f(1.0 - beta1) * g  # m_t = beta1 m_{t-1} + (1 - beta1) g_t
            v *= f(beta2)
            v += f(1.0 - beta2) * (g * g)  # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
            denom = np.sqrt(v) / f(sqrt_bias2) + f(self.eps)  # sqrt(v_hat) + eps
            p -= f(step_size) * (m / denom)  # theta -= lr m_hat / (sqrt(v_hat) + eps)


def _check_params(params: object) -> dict[str, np.ndarray]:
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of numpy arrays; got {type(params).__name__}")
    if not params:
        raise ValueError("params is empty: nothing to optimise")
    for k, p in params.items():
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
            got = getattr(p, "dtype", type(p).__name__)
            raise TypeError(f"params[{k!r}] must be a floating numpy array; got {got}")
        if not p.flags.writeable:
            raise ValueError(f"params[{k!r}] is read-only; the optimiser updates it in place")
    return params


def _check_grads(params: dict[str, np.ndarray], grads: object) -> Mapping[str, np.ndarray]:
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of numpy arrays; got {type(grads).__name__}")
    if set(grads) != set(params):
        raise ValueError(
            f"grads must have the keys of params, {sorted(params)}; got {sorted(grads)}"
        )
    for k, p in params.items():
        g = grads[k]
        if not isinstance(g, np.ndarray):
            raise TypeError(f"grads[{k!r}] must be a numpy array; got {type(g).__name__}")
        if g.shape != p.shape:
            raise ValueError(f"grads[{k!r}] must have shape {p.shape} like params; got {g.shape}")
        if g.dtype != p.dtype:
            raise TypeError(f"grads[{k!r}] must have dtype {p.dtype} like params; got {g.dtype}")
    return grads
