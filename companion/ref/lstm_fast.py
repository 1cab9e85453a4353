"""The LSTM of ``companion.ref.lstm``, rearranged for speed: same function, same gradients.

The equations are those of ``companion.ref.lstm`` (torch's gate order i, f, g, o); only the
order of the arithmetic changes. Four rearrangements, each measured in the appendix on
performance:

1. The input projection of every step in one matrix product before the loop::

       A = X W_ih^T + (b_ih + b_hh)          X is x reshaped to (T*B, D); A is (T*B, 4H)

   so that the loop does one (B, H) x (H, 4H) product per step, h_{t-1} W_hh^T.
2. The weight gradients and the input gradient after the loop, each one product over all
   steps (dA stacks every da_t, (T*B, 4H); H_prev stacks h_0..h_{T-1})::

       dW_ih = dA^T X,    dW_hh = dA^T H_prev,    db = sum of the rows of dA,    dx = dA W_ih

   so that the backward loop does one product per step, dh_{t-1} = da_t W_hh.
3. Every buffer allocated once per call, before its loop; the loops write into them with
   numpy's ``out=`` arguments and in-place operators, so that no step allocates.
4. The sigmoid through tanh, sigma(a) = 1/2 tanh(a/2) + 1/2, which cannot overflow: the rows
   of the i, f and o blocks of the weights and biases are halved once (exact in binary
   floating point), so one ``tanh`` over the whole (B, 4H) pre-activation gives tanh(a/2)
   for the three gates and tanh(a_g) for the candidate; one multiply-add per step then
   turns the gates' values into sigmoids.

The backward pass also groups the local derivatives into factors computed before the loop,
for all steps at once, from the gate values that the forward pass saved::

    P   = o (1 - tanh^2 c)                 dc_t = dh_t P_t + f_{t+1} dc_{t+1}
    Q_i = g i (1 - i),  Q_f = c_{t-1} f (1 - f),  Q_g = i (1 - g^2)    da_{i,f,g} = dc_t Q
    Q_o = tanh(c) o (1 - o)                                             da_o = dh_t Q_o

leaving in the loop only the recurrences for dh_t and dc_t and two products by Q
(``factors``). Where to compute the factors depends on the size (``STEP_BY_STEP_MIN`` of
``companion.ref._hoisted``): for small B * H, for all steps at once before the loop, which
makes the fewest calls (at B = 1 each call's fixed cost dominates); for large B * H, inside
the loop, while step t's values are still in the cache (streaming several (T, B, H) arrays
through memory costs more than the extra calls).
"""

from __future__ import annotations

import numpy as np

from companion import checks
from companion.ref import _hoisted
from companion.ref.lstm import FAMILY as PLAIN_FAMILY
from companion.ref.lstm import G

FAMILY = "lstm_fast"


def _half_sigmoid_rows(H: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (scale, shift) for the blocks i, f, g, o: 1/2 and 1/2 for gates, 1 and 0 for g."""
    scale = np.full(G * H, 0.5, dtype=dtype)
    scale[2 * H : 3 * H] = 1.0
    shift = np.full(G * H, 0.5, dtype=dtype)
    shift[2 * H : 3 * H] = 0.0
    return scale, shift


def factors(gates, c_prev, tanh_c, Q, P) -> None:
    """Write the backward factors (module docstring) of one step or of all steps at once.

    ``gates`` (..., 4, H) holds i, f, g, o; ``c_prev`` and ``tanh_c`` (..., H); fills ``Q``
    (..., 4, H) with Q_i, Q_f, Q_g, Q_o and ``P`` (..., H), with no temporary arrays.
    """
    i, f, g, o = (gates[..., k, :] for k in range(G))
    np.subtract(1.0, gates, out=Q)
    Q *= gates  # s (1 - s) in every block; the g block is overwritten below
    Q[..., 0, :] *= g  # Q_i = g i (1 - i)
    Q[..., 1, :] *= c_prev  # Q_f = c_{t-1} f (1 - f)
    q_g = Q[..., 2, :]
    np.multiply(g, g, out=q_g)
    np.subtract(1.0, q_g, out=q_g)
    q_g *= i  # Q_g = i (1 - g^2)
    Q[..., 3, :] *= tanh_c  # Q_o = tanh(c) o (1 - o)
    np.multiply(tanh_c, tanh_c, out=P)
    np.subtract(1.0, P, out=P)
    P *= o  # P = o (1 - tanh^2 c)


def forward(
    x: np.ndarray, state0: tuple[np.ndarray, np.ndarray] | None, params: dict
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict]:
    """Run the LSTM over a sequence: ``companion.ref.lstm.forward``, rearranged for speed.

    Same arguments and returns: ``x`` (T, B, D); ``state0`` the pair (h0, c0) of (B, H)
    arrays or None for zeros; returns ``(h_seq, (h_T, c_T), cache)``. Float32 or float64.
    """
    T, B, D, H, (h0, c0) = checks.forward_args(x, state0, params, G, PLAIN_FAMILY, pair=True)
    dtype = x.dtype
    scale, shift = _half_sigmoid_rows(H, dtype)
    W_ih_scaled = params["W_ih"] * scale[:, None]
    W_hh_scaled_T = np.ascontiguousarray((params["W_hh"] * scale[:, None]).T)  # (H, 4H)
    b_scaled = (params["b_ih"] + params["b_hh"]) * scale

    # 1. every step's input projection at once; A[t] then becomes the gate values in place
    A = (x.reshape(T * B, D) @ W_ih_scaled.T).reshape(T, B, G * H)
    A += b_scaled
    # 3. buffers for the whole loop: states with h_0 and c_0 in row 0, tanh(c_t), scratch
    Hs = np.empty((T + 1, B, H), dtype=dtype)
    Cs = np.empty((T + 1, B, H), dtype=dtype)
    tanh_c = np.empty((T, B, H), dtype=dtype)
    Hs[0], Cs[0] = h0, c0
    recurrent = np.empty((B, G * H), dtype=dtype)
    ig = np.empty((B, H), dtype=dtype)
    for t in range(T):
        a = A[t]
        np.matmul(Hs[t], W_hh_scaled_T, out=recurrent)  # h_{t-1} W_hh^T, halved gate rows
        a += recurrent
        np.tanh(a, out=a)  # 4. tanh(a/2) for i, f, o; tanh(a_g) for g
        a *= scale
        a += shift  # sigma(a) = tanh(a/2)/2 + 1/2 for i, f, o; g unchanged
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        np.multiply(f, Cs[t], out=Cs[t + 1])
        np.multiply(i, g, out=ig)
        Cs[t + 1] += ig  # c_t = f * c_{t-1} + i * g
        np.tanh(Cs[t + 1], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=Hs[t + 1])  # h_t = o * tanh(c_t)
    cache = {
        "family": FAMILY,
        "x": x,
        "params": params,
        "gates": A,  # (T, B, 4H): i, f, g, o
        "h": Hs,  # (T+1, B, H): h_0 .. h_T
        "c": Cs,  # (T+1, B, H): c_0 .. c_T
        "tanh_c": tanh_c,
    }
    return Hs[1:], (Hs[T].copy(), Cs[T].copy()), cache


def backward(
    dh_seq: np.ndarray,
    dstate_T: tuple[np.ndarray | None, np.ndarray | None] | None,
    cache: dict,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict[str, np.ndarray]]:
    """BPTT for ``forward``: ``companion.ref.lstm.backward``, rearranged for speed.

    Same arguments and returns: ``dh_seq`` (T, B, H); ``dstate_T`` the pair (dh_T, dc_T)
    (either may be None) or None; returns ``(dx, (dh0, dc0), grads)``. No argument is
    modified.
    """
    T, B, H, dh_seq, (dh_T, dc_T) = checks.backward_args(dh_seq, dstate_T, cache, FAMILY, pair=True)
    x, params, A, Hs, Cs, tanh_c = (cache[k] for k in ("x", "params", "gates", "h", "c", "tanh_c"))
    dtype = x.dtype
    gates = A.reshape(T, B, G, H)
    f = gates[:, :, 1]
    Q = np.empty((T, B, G, H), dtype=dtype)  # the factors Q; da_t overwrites Q[t] in the loop
    step_by_step = B * H >= _hoisted.STEP_BY_STEP_MIN
    if step_by_step:
        P = np.empty((1, B, H), dtype=dtype)
    else:  # every step's factors at once
        P = np.empty((T, B, H), dtype=dtype)
        factors(gates, Cs[:-1], tanh_c, Q, P)

    W_hh = params["W_hh"]
    dh = np.zeros((B, H), dtype=dtype) if dh_T is None else dh_T.astype(dtype, copy=True)
    dc = np.zeros((B, H), dtype=dtype) if dc_T is None else dc_T.astype(dtype, copy=True)
    dh_P = np.empty((B, H), dtype=dtype)
    for t in reversed(range(T)):
        if step_by_step:
            factors(gates[t], Cs[t], tanh_c[t], Q[t], P[0])
        if t < T - 1:
            np.matmul(Q[t + 1].reshape(B, G * H), W_hh, out=dh)  # da_{t+1} W_hh
            dc *= f[t + 1]  # the cell path, f_{t+1} * dc_{t+1}
        dh += dh_seq[t]
        np.multiply(dh, P[0 if step_by_step else t], out=dh_P)
        dc += dh_P  # dc_t = dh_t P_t + f_{t+1} dc_{t+1}
        q = Q[t]
        np.multiply(dc[:, None, :], q[:, :3], out=q[:, :3])  # da_i, da_f, da_g = dc Q
        np.multiply(dh, q[:, 3], out=q[:, 3])  # da_o = dh Q_o
    dh0 = Q[0].reshape(B, G * H) @ W_hh
    dc0 = dc * f[0]
    # 2. the weight and input gradients, one product each over all steps
    dx, grads = _hoisted.gradients(Q, Q, x, Hs[:-1], params["W_ih"])
    return dx, (dh0, dc0), grads
