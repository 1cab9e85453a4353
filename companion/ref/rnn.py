"""The Elman recurrent network in numpy: forward over a sequence and its BPTT backward pass.

Equations (column vectors, one example; the code applies them to a batch of rows)::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        pre-activation, (H,)
    h_t = phi(a_t)                                      phi = tanh or relu

This is ``torch.nn.RNN`` with one layer: the same weights give the same outputs.

Backward (backpropagation through time), with dh_t the total gradient reaching h_t::

    dh_t  = dL/dh_t (from the output at t) + W_hh^T da_{t+1}
    da_t  = dh_t * phi'(a_t)                           = Phi_t dh_t, Phi_t = diag(phi'(a_t))
    dW_ih = sum_t da_t x_t^T,   dW_hh = sum_t da_t h_{t-1}^T,   db_ih = db_hh = sum_t da_t
    dx_t  = W_ih^T da_t,        dh_0  = W_hh^T da_1
"""

from __future__ import annotations

import numpy as np

from companion import checks
from companion.ref.activations import get as activation

FAMILY = "rnn"
G = 1
NONLINEARITIES = ("tanh", "relu")


def step(
    x_t: np.ndarray, h_prev: np.ndarray, params: dict, nonlinearity: str = "tanh"
) -> np.ndarray:
    """One step of the cell: h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

    Shapes: ``x_t`` (B, D), ``h_prev`` (B, H); returns ``h_t`` (B, H).
    """
    checks.step_args(x_t, h_prev, params, G, FAMILY)
    phi, _ = activation(checks.one_of("nonlinearity", nonlinearity, NONLINEARITIES))
    a = x_t @ params["W_ih"].T + params["b_ih"] + h_prev @ params["W_hh"].T + params["b_hh"]
    return phi(a)


def forward(
    x: np.ndarray, h0: np.ndarray | None, params: dict, nonlinearity: str = "tanh"
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run the cell over a whole sequence.

    Args:
        x: inputs, shape (T, B, D), time-major.
        h0: initial state, shape (B, H), or None for zeros.
        params: ``W_ih`` (H, D), ``W_hh`` (H, H), ``b_ih`` (H,), ``b_hh`` (H,).
        nonlinearity: 'tanh' (default) or 'relu'.

    Returns:
        ``(h_seq, h_T, cache)``: every hidden state, shape (T, B, H); the last one, (B, H);
        and what ``backward`` needs.
    """
    T, B, D, H, h0 = checks.forward_args(x, h0, params, G, FAMILY)
    phi, _ = activation(checks.one_of("nonlinearity", nonlinearity, NONLINEARITIES))
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    b = params["b_ih"] + params["b_hh"]
    a_seq = np.empty((T, B, H), dtype=x.dtype)
    h_seq = np.empty((T, B, H), dtype=x.dtype)
    h = h0
    for t in range(T):
        a_seq[t] = x[t] @ W_ih.T + h @ W_hh.T + b  # a_t = W_ih x_t + W_hh h_{t-1} + b
        h = h_seq[t] = phi(a_seq[t])  # h_t = phi(a_t)
    cache = {
        "family": FAMILY,
        "nonlinearity": nonlinearity,
        "x": x,
        "h0": h0,
        "params": params,
        "a_seq": a_seq,
        "h_seq": h_seq,
    }
    return h_seq, h_seq[-1].copy(), cache


def backward(
    dh_seq: np.ndarray, dh_T: np.ndarray | None, cache: dict
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Backpropagation through time for ``forward``.

    Args:
        dh_seq: gradient of the loss with respect to each output h_t, shape (T, B, H)
            (zeros where the loss does not read h_t).
        dh_T: gradient with respect to the returned final state, shape (B, H), or None.
        cache: the third value returned by ``forward``.

    Returns:
        ``(dx, dh0, grads)``: shapes (T, B, D), (B, H), and a dict keyed like ``params``.
        No argument is modified.
    """
    T, B, H, dh_seq, dh_T = checks.backward_args(dh_seq, dh_T, cache, FAMILY)
    x, h0, params, a_seq, h_seq = (cache[k] for k in ("x", "h0", "params", "a_seq", "h_seq"))
    _, dphi = activation(cache["nonlinearity"])
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dx = np.empty_like(x)
    dh_next = np.zeros((B, H), dtype=x.dtype) if dh_T is None else dh_T.astype(x.dtype)
    for t in reversed(range(T)):
        h_prev = h_seq[t - 1] if t > 0 else h0
        dh = dh_seq[t] + dh_next  # from the output at t, plus carried back from t+1
        da = dh * dphi(a_seq[t])  # through phi
        grads["W_ih"] += da.T @ x[t]
        grads["W_hh"] += da.T @ h_prev
        grads["b_ih"] += da.sum(axis=0)
        dx[t] = da @ W_ih
        dh_next = da @ W_hh  # W_hh^T da_t, reaching h_{t-1}
    grads["b_hh"] = grads["b_ih"].copy()
    return dx, dh_next, grads


def init_params(
    D: int, H: int, rng: np.random.Generator, dtype: type = np.float64
) -> dict[str, np.ndarray]:
    """Draw ``W_ih`` (H, D), ``W_hh`` (H, H), ``b_ih`` (H,), ``b_hh`` (H,) as torch does."""
    return checks.init_params(D, H, G, rng, dtype)
