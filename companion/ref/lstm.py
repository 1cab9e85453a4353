"""The LSTM in numpy: forward over a sequence and its BPTT backward pass.

Equations (column vectors, one example; the code applies them to a batch of rows). The four
blocks are stacked in torch's order i, f, g, o, so ``W_ih`` is (4H, D), ``W_hh`` (4H, H),
``b_ih`` and ``b_hh`` (4H,)::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        (4H,), split into a_i, a_f, a_g, a_o
    i_t = sigma(a_i)    input gate: how much of the candidate to write
    f_t = sigma(a_f)    forget gate: how much of the old cell to keep
    g_t = tanh(a_g)     candidate
    o_t = sigma(a_o)    output gate: how much of the cell to show
    c_t = f_t * c_{t-1} + i_t * g_t                     cell state, (H,)
    h_t = o_t * tanh(c_t)                               hidden state, (H,)

This is ``torch.nn.LSTM`` with one layer: the same weights give the same outputs.

Backward, with dh_t the total gradient reaching h_t and dc_t the total reaching c_t::

    dh_t  = dL/dh_t (from the output at t) + W_hh^T da_{t+1}
    dc_t  = dh_t * o_t * (1 - tanh^2(c_t)) + f_{t+1} * dc_{t+1}     two paths into c_t
    do_t  = dh_t * tanh(c_t)
    di_t  = dc_t * g_t,    df_t = dc_t * c_{t-1},    dg_t = dc_t * i_t
    da_t  = [di_t sigma'(a_i), df_t sigma'(a_f), dg_t (1 - g_t^2), do_t sigma'(a_o)]
            with sigma'(a) = sigma(a) (1 - sigma(a)), written with the gate values
    dW_ih = sum_t da_t x_t^T,   dW_hh = sum_t da_t h_{t-1}^T,   db_ih = db_hh = sum_t da_t
    dx_t  = W_ih^T da_t,   dh_{t-1} = W_hh^T da_t,   dc_{t-1} = f_t * dc_t

Along the cell path alone, dc_{t-1} = f_t * dc_t, so dc_T/dc_0 = f_1 * ... * f_T: a product of
gates that the network can hold near 1, not of Jacobians (the constant error carousel).
"""

from __future__ import annotations

import numpy as np

from companion import checks, families
from companion.ref.activations import sigmoid

FAMILY = "lstm"
G = 4
GATES = ("i", "f", "g", "o")


def _cell(x_t, h_prev, c_prev, W_ih, W_hh, b):
    """One step; returns the gates (i, f, g, o) and the new (h, c), each (B, H)."""
    H = W_hh.shape[1]
    a = x_t @ W_ih.T + h_prev @ W_hh.T + b  # a_t, (B, 4H)
    i = sigmoid(a[:, :H])  # input gate
    f = sigmoid(a[:, H : 2 * H])  # forget gate
    g = np.tanh(a[:, 2 * H : 3 * H])  # candidate
    o = sigmoid(a[:, 3 * H :])  # output gate
    c = f * c_prev + i * g  # c_t = f * c_{t-1} + i * g
    h = o * np.tanh(c)  # h_t = o * tanh(c_t)
    return (i, f, g, o), h, c


def step(
    x_t: np.ndarray, state: tuple[np.ndarray, np.ndarray], params: dict
) -> tuple[np.ndarray, np.ndarray]:
    """One step of the cell: the equations of the module docstring for a single t.

    Shapes: ``x_t`` (B, D); ``state`` the pair (h_prev, c_prev), each (B, H); returns the
    pair (h_t, c_t), each (B, H).
    """
    h_prev, c_prev = checks.step_args(x_t, state, params, G, FAMILY, pair=True)
    b = params["b_ih"] + params["b_hh"]
    _, h, c = _cell(x_t, h_prev, c_prev, params["W_ih"], params["W_hh"], b)
    return h, c


def forward(
    x: np.ndarray, state0: tuple[np.ndarray, np.ndarray] | None, params: dict
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict]:
    """Run the LSTM over a whole sequence.

    Args:
        x: inputs, shape (T, B, D), time-major.
        state0: the pair (h0, c0), each (B, H), or None for zeros.
        params: ``W_ih`` (4H, D), ``W_hh`` (4H, H), ``b_ih`` (4H,), ``b_hh`` (4H,).

    Returns:
        ``(h_seq, (h_T, c_T), cache)``: every hidden state, (T, B, H); the final state, each
        (B, H); and what ``backward`` needs. For plotting, ``cache["gates"]`` is a dict of the
        gate values ``i``, ``f``, ``g``, ``o``, each (T, B, H), and ``cache["c_seq"]`` the
        cell states c_1..c_T, (T, B, H).
    """
    T, B, D, H, (h0, c0) = checks.forward_args(x, state0, params, G, FAMILY, pair=True)
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    b = params["b_ih"] + params["b_hh"]
    gates = {k: np.empty((T, B, H), dtype=x.dtype) for k in GATES}
    h_seq = np.empty((T, B, H), dtype=x.dtype)
    c_seq = np.empty((T, B, H), dtype=x.dtype)
    h, c = h0, c0
    for t in range(T):
        values, h, c = _cell(x[t], h, c, W_ih, W_hh, b)
        for k, v in zip(GATES, values, strict=True):
            gates[k][t] = v
        h_seq[t], c_seq[t] = h, c
    cache = {
        "family": FAMILY,
        "x": x,
        "h0": h0,
        "c0": c0,
        "params": params,
        "gates": gates,
        "h_seq": h_seq,
        "c_seq": c_seq,
    }
    return h_seq, (h_seq[-1].copy(), c_seq[-1].copy()), cache


def backward(
    dh_seq: np.ndarray,
    dstate_T: tuple[np.ndarray | None, np.ndarray | None] | None,
    cache: dict,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict[str, np.ndarray]]:
    """Backpropagation through time for ``forward`` (equations in the module docstring).

    Args:
        dh_seq: gradient of the loss with respect to each output h_t, shape (T, B, H)
            (zeros where the loss does not read h_t).
        dstate_T: the pair (dh_T, dc_T) of gradients with respect to the returned final
            state, each (B, H) or None (zero); or None for both.
        cache: the third value returned by ``forward``.

    Returns:
        ``(dx, (dh0, dc0), grads)``: shapes (T, B, D), (B, H) twice, and a dict keyed like
        ``params``. No argument is modified.
    """
    T, B, H, dh_seq, (dh_T, dc_T) = checks.backward_args(dh_seq, dstate_T, cache, FAMILY, pair=True)
    x, h0, c0, params = cache["x"], cache["h0"], cache["c0"], cache["params"]
    h_seq, c_seq, gates = cache["h_seq"], cache["c_seq"], cache["gates"]
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dx = np.empty_like(x)
    zeros = np.zeros((B, H), dtype=x.dtype)
    dh_next = zeros if dh_T is None else dh_T.astype(x.dtype)  # W_hh^T da_{t+1}
    dc_next = zeros if dc_T is None else dc_T.astype(x.dtype)  # f_{t+1} * dc_{t+1}
    for t in reversed(range(T)):
        h_prev = h_seq[t - 1] if t > 0 else h0
        c_prev = c_seq[t - 1] if t > 0 else c0
        i, f, g, o = (gates[k][t] for k in GATES)
        tanh_c = np.tanh(c_seq[t])
        dh = dh_seq[t] + dh_next  # from the output at t, plus carried back from t+1
        do = dh * tanh_c  # h = o * tanh(c)
        dc = dh * o * (1.0 - tanh_c**2) + dc_next  # through tanh(c), plus the cell path
        di, df, dg = dc * g, dc * c_prev, dc * i  # c = f * c_prev + i * g
        da = np.concatenate(  # through the gate nonlinearities, (B, 4H) in order i, f, g, o
            [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)],
            axis=1,
        )
        grads["W_ih"] += da.T @ x[t]
        grads["W_hh"] += da.T @ h_prev
        grads["b_ih"] += da.sum(axis=0)
        dx[t] = da @ W_ih
        dh_next = da @ W_hh  # W_hh^T da_t, reaching h_{t-1}
        dc_next = dc * f  # f_t * dc_t, reaching c_{t-1}
    grads["b_hh"] = grads["b_ih"].copy()
    return dx, (dh_next, dc_next), grads


def init_params(
    D: int, H: int, rng: np.random.Generator, dtype: type = np.float64, forget_bias: float = 0.0
) -> dict[str, np.ndarray]:
    """Draw ``W_ih`` (4H, D), ``W_hh`` (4H, H), ``b_ih``, ``b_hh`` (4H,) as torch does.

    Every entry is uniform on (-1/sqrt(H), 1/sqrt(H)); ``forget_bias`` is then added to the
    f block ``b_ih[H:2H]``, so that sigma(a_f) starts near sigma(forget_bias): 1.0 is the
    initialisation of Jozefowicz et al. (2015), which keeps the cell's memory at the start.
    """
    return checks.init_params(D, H, G, rng, dtype, {1: forget_bias})


def count_params(D: int, H: int, torch_biases: bool = True) -> int:
    """Number of scalars in one LSTM layer: 4 (H (D + H) + H) with one bias vector.

    Four blocks (i, f, g, o), each with an (H, D) input matrix, an (H, H) recurrent matrix
    and an H-vector of biases. torch keeps two bias vectors, b_ih and b_hh, whose sum is the
    one bias of the equations: ``torch_biases=True`` (default) counts that redundant 4H too,
    giving 4 (H (D + H) + 2H), what ``sum(p.numel() for p in torch.nn.LSTM(D, H).parameters())``
    returns.
    """
    return families.get(FAMILY).count(D, H, torch_biases)
