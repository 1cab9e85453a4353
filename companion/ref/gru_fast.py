"""The GRU of ``companion.ref.gru``, rearranged for speed: same function, same gradients.

This is torch's form (``reset="after"``, ``update="torch"``, the defaults of
``companion.ref.gru``), blocks in the order r, z, n::

    r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * ghn_t),      ghn_t = W_hn h_{t-1} + b_hn
    h_t = (1 - z_t) n_t + z_t h_{t-1} = n_t + z_t (h_{t-1} - n_t)

The rearrangements are those of ``companion.ref.lstm_fast``: every step's input projection in
one product before the loop, the weight and input gradients in one product each after it,
buffers allocated once per call and written in place, and the sigmoid through tanh with the
r and z rows of the weights and biases halved once.

The GRU's backward pass has a property the LSTM's lacks: with dh_t the total gradient
reaching h_t, every gradient of step t is dh_t times a factor that the forward pass fixes::

    da_n  = dh_t Q_n,     Q_n = (1 - z)(1 - n^2)
    da_z  = dh_t Q_z,     Q_z = (h_{t-1} - n) z (1 - z)
    da_r  = dh_t Q_r,     Q_r = Q_n ghn r (1 - r)
    dghn  = dh_t Q_g,     Q_g = Q_n r
    dh_{t-1} = dh_t z + [da_r, da_z, dghn] W_hh

So the loop holds only the recurrence for dh_t (one product by W_hh and three element-wise
operations per step) and the products by the factors. The factors are computed for all steps
at once before the loop for small B * H and inside it for large B * H (``STEP_BY_STEP_MIN`` of
``companion.ref._hoisted``), as in ``companion.ref.lstm_fast``.
"""

from __future__ import annotations

import numpy as np

from companion import checks
from companion.ref import _hoisted
from companion.ref.gru import FAMILY as PLAIN_FAMILY
from companion.ref.gru import G

FAMILY = "gru_fast"


def factors(gates, ghn, h_prev, Qh, Q_n) -> None:
    """Write the backward factors (module docstring) of one step or of all steps at once.

    ``gates`` (..., 3, H) holds r, z, n; ``ghn`` and ``h_prev`` (..., H); fills ``Qh``
    (..., 3, H) with Q_r, Q_z, Q_g and ``Q_n`` (..., H).
    """
    r, z, n = (gates[..., k, :] for k in range(G))
    scratch = Qh[..., 2, :]  # free until Q_g is written last
    np.multiply(n, n, out=Q_n)
    np.subtract(1.0, Q_n, out=Q_n)
    np.subtract(1.0, z, out=scratch)
    Q_n *= scratch  # Q_n = (1 - z)(1 - n^2)
    rz = Qh[..., :2, :]
    np.subtract(1.0, gates[..., :2, :], out=rz)
    rz *= gates[..., :2, :]  # r (1 - r), z (1 - z)
    np.subtract(h_prev, n, out=scratch)
    Qh[..., 1, :] *= scratch  # Q_z = (h_{t-1} - n) z (1 - z)
    Qh[..., 0, :] *= ghn
    Qh[..., 0, :] *= Q_n  # Q_r = Q_n ghn r (1 - r)
    np.multiply(Q_n, r, out=Qh[..., 2, :])  # Q_g = Q_n r


def forward(
    x: np.ndarray, h0: np.ndarray | None, params: dict
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run the GRU over a sequence: ``companion.ref.gru.forward`` with its default (torch's)
    form, rearranged for speed.

    Same arguments and returns: ``x`` (T, B, D); ``h0`` (B, H) or None for zeros; returns
    ``(h_seq, h_T, cache)``. Float32 or float64. For reset="before" or update="chung" use
    ``companion.ref.gru``.
    """
    T, B, D, H, h0 = checks.forward_args(x, h0, params, G, PLAIN_FAMILY)
    dtype = x.dtype
    scale = np.ones(G * H, dtype=dtype)
    scale[: 2 * H] = 0.5  # the r and z rows: tanh of the halved pre-activation
    W_ih_scaled = params["W_ih"] * scale[:, None]
    W_hh_scaled_T = np.ascontiguousarray((params["W_hh"] * scale[:, None]).T)  # (H, 3H)
    b_hh_scaled = params["b_hh"] * scale

    A = (x.reshape(T * B, D) @ W_ih_scaled.T).reshape(T, B, G, H)
    A += (params["b_ih"] * scale).reshape(G, H)  # A[t] becomes r, z, n in place
    GH = np.empty((T, B, G, H), dtype=dtype)  # h_{t-1} W_hh^T + b_hh, r and z rows halved
    Hs = np.empty((T + 1, B, H), dtype=dtype)  # h_0 .. h_T
    Hs[0] = h0
    rgh = np.empty((B, H), dtype=dtype)
    for t in range(T):
        a, gh = A[t], GH[t]
        np.matmul(Hs[t], W_hh_scaled_T, out=gh.reshape(B, G * H))
        gh += b_hh_scaled.reshape(G, H)
        rz = a[:, :2]
        rz += gh[:, :2]
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5  # r, z = sigma(a) = tanh(a/2)/2 + 1/2
        r, z, n = a[:, 0], a[:, 1], a[:, 2]
        np.multiply(r, gh[:, 2], out=rgh)
        n += rgh
        np.tanh(n, out=n)  # n = tanh(W_in x + b_in + r * ghn)
        h = Hs[t + 1]
        np.subtract(Hs[t], n, out=h)
        h *= z
        h += n  # h_t = n + z (h_{t-1} - n)
    cache = {"family": FAMILY, "x": x, "params": params, "gates": A, "gh": GH, "h": Hs}
    return Hs[1:], Hs[T].copy(), cache


def backward(
    dh_seq: np.ndarray, dh_T: np.ndarray | None, cache: dict
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """BPTT for ``forward``: ``companion.ref.gru.backward`` in torch's form, rearranged for
    speed: the factors of the module docstring (``factors``), a loop that holds only the
    recurrence for dh_t, and the weight and input gradients after it.

    Same arguments and returns: ``dh_seq`` (T, B, H); ``dh_T`` (B, H) or None; returns
    ``(dx, dh0, grads)``. No argument is modified.
    """
    T, B, H, dh_seq, dh_T = checks.backward_args(dh_seq, dh_T, cache, FAMILY)
    x, params, A, GH, Hs = (cache[k] for k in ("x", "params", "gates", "gh", "h"))
    dtype = x.dtype
    z, h_prev = A[:, :, 1], Hs[:-1]
    Qh = np.empty((T, B, G, H), dtype=dtype)  # Q_r, Q_z, Q_g; [da_r, da_z, dghn] in the loop
    Q_n = np.empty((T, B, H), dtype=dtype)
    step_by_step = B * H >= _hoisted.STEP_BY_STEP_MIN
    if not step_by_step:  # every step's factors at once
        factors(A, GH[:, :, 2], h_prev, Qh, Q_n)

    W_hh = params["W_hh"]
    dH = np.empty((T, B, H), dtype=dtype)  # dh_t, every step
    recurrent = np.empty((B, H), dtype=dtype)
    if dh_T is None:
        dH[T - 1] = dh_seq[T - 1]
    else:
        np.add(dh_seq[T - 1], dh_T, out=dH[T - 1])
    for t in reversed(range(T)):
        if step_by_step:
            factors(A[t], GH[t, :, 2], h_prev[t], Qh[t], Q_n[t])
        if t < T - 1:
            np.matmul(Qh[t + 1].reshape(B, G * H), W_hh, out=recurrent)
            np.multiply(dH[t + 1], z[t + 1], out=dH[t])
            dH[t] += recurrent
            dH[t] += dh_seq[t]  # dh_t = dL/dh_t + dh_{t+1} z_{t+1} + da_{t+1} W_hh
        np.multiply(dH[t][:, None, :], Qh[t], out=Qh[t])  # da_r, da_z, dghn
    dh0 = dH[0] * z[0] + Qh[0].reshape(B, G * H) @ W_hh

    dAx = np.empty((T, B, G, H), dtype=dtype)  # da_r, da_z, da_n: the input side
    dAx[:, :, :2] = Qh[:, :, :2]
    np.multiply(dH, Q_n, out=dAx[:, :, 2])
    dx, grads = _hoisted.gradients(dAx, Qh, x, h_prev, params["W_ih"])
    return dx, dh0, grads
