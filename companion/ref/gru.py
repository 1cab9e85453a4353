"""The GRU in numpy: forward over a sequence and its BPTT backward pass, in both conventions.

Equations (column vectors, one example; the code applies them to a batch of rows). The three
blocks are stacked in torch's order r, z, n, so ``W_ih`` is (3H, D), ``W_hh`` (3H, H), ``b_ih``
and ``b_hh`` (3H,); W_ir, W_hr, b_ir, b_hr are the r rows of those, and so on::

    r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)        reset gate
    z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)        update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))   candidate, reset="after"
    n_t = tanh(W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn)   candidate, reset="before"
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                     update="torch"
    h_t = z_t * n_t + (1 - z_t) * h_{t-1}                     update="chung"

The defaults, reset="after" and update="torch", are ``torch.nn.GRU`` with one layer (and cuDNN):
the same weights give the same outputs. reset="before" is the form of Cho et al. (2014): a
different function, not a re-parametrisation. update="chung" is the convention of Chung et al.
(2014) and several textbooks, where z_t is the fraction of the candidate written rather than of
the old state kept; since sigma(-a) = 1 - sigma(a) it is the same model with the z block of
every weight and bias negated, which ``flip_update_convention`` does::

    forward(x, h0, flip_update_convention(params), update="chung") == forward(x, h0, params)

Backward, with dh_t the total gradient reaching h_t, k_t the gate that keeps the old state
(k = z for "torch", k = 1 - z for "chung"), ghn_t = W_hn h_{t-1} + b_hn (after) and
u_t = r_t * h_{t-1} (before)::

    dh_t  = dL/dh_t (from the output at t) + the four paths below from step t+1
    dn_t  = dh_t * (1 - k_t),    dk_t = dh_t * (h_{t-1} - n_t),    dz_t = dk_t ("torch")
                                                                   or -dk_t ("chung")
    da_n  = dn_t * (1 - n_t^2)                          the candidate's pre-activation
    after:   dr_t = da_n * ghn_t,    dghn_t = da_n * r_t
    before:  du_t = W_hn^T da_n,     dr_t = du_t * h_{t-1}
    da_r  = dr_t * r_t (1 - r_t),    da_z = dz_t * z_t (1 - z_t)
    dW_ih = sum_t [da_r; da_z; da_n] x_t^T,    db_ih = sum_t [da_r; da_z; da_n]
    dx_t  = W_ih^T [da_r; da_z; da_n]
    dW_hh = sum_t [da_r h_{t-1}^T; da_z h_{t-1}^T; dghn_t h_{t-1}^T (after) or da_n u_t^T
            (before)],    db_hh = sum_t [da_r; da_z; dghn_t (after) or da_n (before)]

Four paths carry the gradient into h_{t-1}: directly through the interpolation, dh_t * k_t,
and through the r, z and n pre-activations::

    dh_{t-1} = dh_t * k_t + W_hr^T da_r + W_hz^T da_z + W_hn^T dghn_t   (after)
                                                      + du_t * r_t      (before)

The first path is the GRU's additive update: with k_t near 1 the gradient passes unchanged,
like the LSTM's cell path. b_ih and b_hh differ in the n block (b_hn sits inside r * (...)
after the reset), so their gradients differ there too, and the two biases are not redundant
for reset="after".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from companion import checks, families
from companion.ref.activations import sigmoid

FAMILY = "gru"
G = 3
GATES = ("r", "z", "n")
RESETS = ("after", "before")
UPDATES = ("torch", "chung")


def _cell(x_t, h_prev, params, reset, update):
    """One step; returns the gates (r, z, n), ghn = W_hn h_{t-1} + b_hn, and h_t, each (B, H)."""
    W_ih, W_hh, b_ih, b_hh = (params[k] for k in checks.PARAM_NAMES)
    H = W_hh.shape[1]
    ax = x_t @ W_ih.T + b_ih  # W_i. x_t + b_i. for r, z, n, (B, 3H)
    ah = h_prev @ W_hh[: 2 * H].T + b_hh[: 2 * H]  # W_h. h_{t-1} + b_h. for r, z, (B, 2H)
    r = sigmoid(ax[:, :H] + ah[:, :H])  # reset gate
    z = sigmoid(ax[:, H : 2 * H] + ah[:, H:])  # update gate
    if reset == "after":
        ghn = h_prev @ W_hh[2 * H :].T + b_hh[2 * H :]  # W_hn h_{t-1} + b_hn
        n = np.tanh(ax[:, 2 * H :] + r * ghn)  # reset after the product
    else:
        ghn = None
        n = np.tanh(ax[:, 2 * H :] + (r * h_prev) @ W_hh[2 * H :].T + b_hh[2 * H :])  # before
    keep = z if update == "torch" else 1.0 - z  # the gate that multiplies h_{t-1}
    h = (1.0 - keep) * n + keep * h_prev  # h_t: interpolate candidate and old state
    return (r, z, n), ghn, h


def step(
    x_t: np.ndarray,
    h_prev: np.ndarray,
    params: dict,
    reset: str = "after",
    update: str = "torch",
) -> np.ndarray:
    """One step of the cell: the equations of the module docstring for a single t.

    Shapes: ``x_t`` (B, D), ``h_prev`` (B, H); returns ``h_t`` (B, H).
    """
    _options(reset, update)
    checks.step_args(x_t, h_prev, params, G, FAMILY)
    return _cell(x_t, h_prev, params, reset, update)[2]


def forward(
    x: np.ndarray,
    h0: np.ndarray | None,
    params: dict,
    reset: str = "after",
    update: str = "torch",
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run the GRU over a whole sequence.

    Args:
        x: inputs, shape (T, B, D), time-major.
        h0: initial state, shape (B, H), or None for zeros.
        params: ``W_ih`` (3H, D), ``W_hh`` (3H, H), ``b_ih`` (3H,), ``b_hh`` (3H,), blocks in
            the order r, z, n.
        reset: 'after' (torch, cuDNN: r * (W_hn h + b_hn)) or 'before' (Cho et al. 2014:
            W_hn (r * h) + b_hn).
        update: 'torch' (h_t = (1 - z) n + z h_{t-1}, also Cho et al. 2014) or 'chung'
            (h_t = z n + (1 - z) h_{t-1}, Chung et al. 2014).

    Returns:
        ``(h_seq, h_T, cache)``: every hidden state, (T, B, H); the last one, (B, H); and what
        ``backward`` needs. For plotting, ``cache["gates"]`` is a dict of the values ``r``,
        ``z``, ``n``, each (T, B, H).
    """
    _options(reset, update)
    T, B, D, H, h0 = checks.forward_args(x, h0, params, G, FAMILY)
    gates = {k: np.empty((T, B, H), dtype=x.dtype) for k in GATES}
    ghn_seq = np.empty((T, B, H), dtype=x.dtype) if reset == "after" else None
    h_seq = np.empty((T, B, H), dtype=x.dtype)
    h = h0
    for t in range(T):
        values, ghn, h = _cell(x[t], h, params, reset, update)
        for k, v in zip(GATES, values, strict=True):
            gates[k][t] = v
        if ghn_seq is not None:
            ghn_seq[t] = ghn
        h_seq[t] = h
    cache = {
        "family": FAMILY,
        "reset": reset,
        "update": update,
        "x": x,
        "h0": h0,
        "params": params,
        "gates": gates,
        "ghn_seq": ghn_seq,
        "h_seq": h_seq,
    }
    return h_seq, h_seq[-1].copy(), cache


def backward(
    dh_seq: np.ndarray, dh_T: np.ndarray | None, cache: dict
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Backpropagation through time for ``forward``, in the reset and update form it ran
    (equations in the module docstring).

    ``dh_seq`` (T, B, H) is the gradient of the loss with respect to each output h_t (zeros
    where the loss does not read h_t), ``dh_T`` (B, H) the one with respect to the returned
    final state, or None, and ``cache`` the third value returned by ``forward``. Returns
    ``(dx, dh0, grads)``: shapes (T, B, D), (B, H), and a dict keyed like ``params``; the
    gradients of ``b_ih`` and ``b_hh`` differ in the n block when reset="after". No argument
    is modified.
    """
    T, B, H, dh_seq, dh_T = checks.backward_args(dh_seq, dh_T, cache, FAMILY)
    x, h0, params, h_seq = cache["x"], cache["h0"], cache["params"], cache["h_seq"]
    gates, ghn_seq, after = cache["gates"], cache["ghn_seq"], cache["reset"] == "after"
    sign = 1.0 if cache["update"] == "torch" else -1.0  # dz = sign * dk
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    W_hn = W_hh[2 * H :]
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dx = np.empty_like(x)
    dh_next = np.zeros((B, H), dtype=x.dtype) if dh_T is None else dh_T.astype(x.dtype)
    for t in reversed(range(T)):
        h_prev = h_seq[t - 1] if t > 0 else h0
        r, z, n = (gates[k][t] for k in GATES)
        keep = z if sign > 0 else 1.0 - z
        dh = dh_seq[t] + dh_next  # from the output at t, plus carried back from t+1
        dn = dh * (1.0 - keep)  # h = (1 - k) n + k h_prev
        dz = sign * dh * (h_prev - n)
        da_n = dn * (1.0 - n**2)  # through tanh
        if after:
            dr = da_n * ghn_seq[t]  # n = tanh(. + r * ghn)
            dghn = da_n * r  # reaches W_hn h_prev + b_hn
            u = h_prev  # what W_hn multiplies
        else:
            du = da_n @ W_hn  # n = tanh(. + W_hn u + b_hn), u = r * h_prev
            dr = du * h_prev
            dghn = da_n
            u = r * h_prev
        da_r = dr * r * (1.0 - r)  # through the sigmoids
        da_z = dz * z * (1.0 - z)
        da_x = np.concatenate([da_r, da_z, da_n], axis=1)  # input side, (B, 3H)
        da_h = np.concatenate([da_r, da_z], axis=1)  # r, z on the recurrent side, (B, 2H)
        grads["W_ih"] += da_x.T @ x[t]
        grads["b_ih"] += da_x.sum(axis=0)
        grads["W_hh"][: 2 * H] += da_h.T @ h_prev
        grads["W_hh"][2 * H :] += dghn.T @ u
        grads["b_hh"][: 2 * H] += da_h.sum(axis=0)
        grads["b_hh"][2 * H :] += dghn.sum(axis=0)
        dx[t] = da_x @ W_ih
        # the four paths into h_{t-1}: the interpolation, then r, z and n
        dh_next = dh * keep + da_h @ W_hh[: 2 * H]
        dh_next = dh_next + (dghn @ W_hn if after else du * r)
    return dx, dh_next, grads


def flip_update_convention(params: dict) -> dict[str, np.ndarray]:
    """New params with the z block (rows H:2H) of ``W_ih``, ``W_hh``, ``b_ih``, ``b_hh`` negated.

    sigma(-a) = 1 - sigma(a), so this turns z into 1 - z: a GRU with update="chung" and the
    flipped params computes exactly what update="torch" computes with ``params``, and back (the
    flip is its own inverse). The r and n blocks are unchanged; the input is not modified.
    """
    H = checks.params(params, G, _input_size(params), FAMILY)
    out = {k: params[k].copy() for k in checks.PARAM_NAMES}
    for k in checks.PARAM_NAMES:
        out[k][H : 2 * H] *= -1.0
    return out


def init_params(
    D: int, H: int, rng: np.random.Generator, dtype: type = np.float64, update_bias: float = 0.0
) -> dict[str, np.ndarray]:
    """Draw ``W_ih`` (3H, D), ``W_hh`` (3H, H), ``b_ih``, ``b_hh`` (3H,) as torch does.

    Every entry is uniform on (-1/sqrt(H), 1/sqrt(H)); ``update_bias`` is then added to the z
    block ``b_ih[H:2H]``. In torch's convention h_t = (1 - z) n + z h_{t-1}, so a positive
    value makes z start near 1 and the cell keep its state (the GRU's forget-bias analogue);
    for update="chung" the same effect needs a negative value.
    """
    return checks.init_params(D, H, G, rng, dtype, {1: update_bias})


def count_params(D: int, H: int, torch_biases: bool = True) -> int:
    """Number of scalars in one GRU layer: 3 (H (D + H) + H) with one bias vector per block.

    ``torch_biases=True`` (default) counts torch's second bias vector too, 3 (H (D + H) + 2H),
    what ``sum(p.numel() for p in torch.nn.GRU(D, H).parameters())`` returns. Of that second
    vector only the r and z blocks are redundant: with reset="after", b_hn sits inside
    r * (W_hn h + b_hn) and cannot be merged into b_in, so that form has H more free parameters
    than the one-bias count.
    """
    return families.get(FAMILY).count(D, H, torch_biases)


def _input_size(params: object) -> int:
    """D read from ``params['W_ih']`` when it is there (``checks.params`` reports the rest)."""
    W_ih = params.get("W_ih") if isinstance(params, Mapping) else None
    return W_ih.shape[-1] if isinstance(W_ih, np.ndarray) and W_ih.ndim == 2 else -1


def _options(reset: str, update: str) -> None:
    checks.one_of("reset", reset, RESETS)
    checks.one_of("update", update, UPDATES)
