"""The Elman RNN of ``companion.ref.rnn``, rearranged for speed: same function, same gradients.

Equations as in ``companion.ref.rnn``::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,    h_t = phi(a_t),    phi = tanh or relu

Rearranged as ``companion.ref.lstm_fast`` is: every step's input projection in one product
before the loop (A = X W_ih^T + b, X of shape (T*B, D)); one product per step in each
direction; the weight and input gradients after the backward loop, one product each over
all steps (dA stacks every da_t; H_prev stacks h_0..h_{T-1})::

    dW_ih = dA^T X,    dW_hh = dA^T H_prev,    db = sum of the rows of dA,    dx = dA W_ih

and buffers allocated once per call. The derivative of phi is read off the saved outputs,
for all steps at once before the loop: 1 - h^2 for tanh, [h > 0] for relu.
"""

from __future__ import annotations

import numpy as np

from companion import checks
from companion.ref import _hoisted
from companion.ref.rnn import FAMILY as PLAIN_FAMILY
from companion.ref.rnn import NONLINEARITIES, G

FAMILY = "rnn_fast"


def forward(
    x: np.ndarray, h0: np.ndarray | None, params: dict, nonlinearity: str = "tanh"
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run the RNN over a sequence: ``companion.ref.rnn.forward``, rearranged for speed.

    Same arguments and returns: ``x`` (T, B, D); ``h0`` (B, H) or None for zeros;
    ``nonlinearity`` 'tanh' or 'relu'; returns ``(h_seq, h_T, cache)``.
    """
    T, B, D, H, h0 = checks.forward_args(x, h0, params, G, PLAIN_FAMILY)
    checks.one_of("nonlinearity", nonlinearity, NONLINEARITIES)
    dtype = x.dtype
    W_hh_T = np.ascontiguousarray(params["W_hh"].T)
    A = (x.reshape(T * B, D) @ params["W_ih"].T).reshape(T, B, H)
    A += params["b_ih"] + params["b_hh"]
    Hs = np.empty((T + 1, B, H), dtype=dtype)  # h_0 .. h_T
    Hs[0] = h0
    for t in range(T):
        h = Hs[t + 1]
        np.matmul(Hs[t], W_hh_T, out=h)
        h += A[t]  # a_t
        if nonlinearity == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0.0, out=h)
    cache = {"family": FAMILY, "nonlinearity": nonlinearity, "x": x, "params": params, "h": Hs}
    return Hs[1:], Hs[T].copy(), cache


def backward(
    dh_seq: np.ndarray, dh_T: np.ndarray | None, cache: dict
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """BPTT for ``forward``: ``companion.ref.rnn.backward``, rearranged for speed (phi' read
    off the saved outputs before the loop, one product by W_hh per step in the loop, the
    weight and input gradients after it).

    Same arguments and returns: ``dh_seq`` (T, B, H); ``dh_T`` (B, H) or None; returns
    ``(dx, dh0, grads)``. No argument is modified.
    """
    T, B, H, dh_seq, dh_T = checks.backward_args(dh_seq, dh_T, cache, FAMILY)
    x, params, Hs = cache["x"], cache["params"], cache["h"]
    dtype = x.dtype
    h = Hs[1:]
    if cache["nonlinearity"] == "tanh":
        dA = np.multiply(h, h)
        np.subtract(1.0, dA, out=dA)  # phi'(a_t) = 1 - h_t^2; becomes da_t in the loop
    else:
        dA = (h > 0).astype(dtype)  # phi'(a_t) = [a_t > 0] = [h_t > 0]
    W_hh = params["W_hh"]
    dh = np.empty((B, H), dtype=dtype)
    for t in reversed(range(T)):
        if t < T - 1:
            np.matmul(dA[t + 1], W_hh, out=dh)  # da_{t+1} W_hh
            dh += dh_seq[t]
        elif dh_T is None:
            dh[:] = dh_seq[t]
        else:
            np.add(dh_seq[t], dh_T, out=dh)
        dA[t] *= dh  # da_t = dh_t phi'(a_t)
    dh0 = dA[0] @ W_hh

    dx, grads = _hoisted.gradients(dA, dA, x, Hs[:-1], params["W_ih"])
    return dx, dh0, grads
