"""The linear readout on top of a recurrent layer, and the losses, each with its gradient.

Readout (column vectors, one step; the code applies it to rows of any leading shape)::

    y_hat_t = W_hq h_t + b_q              W_hq (Q, H), b_q (Q,), y_hat_t (Q,)

y_hat_t is the book's readout (not o_t, which is the LSTM's output gate); the code calls it
``out``. This is ``torch.nn.Linear(H, Q)`` with ``weight = W_hq`` and ``bias = b_q``. Backward,
with dy_hat_t = dL/dy_hat_t::

    dh_t = W_hq^T dy_hat_t,   dW_hq = sum_t dy_hat_t h_t^T,   db_q = sum_t dy_hat_t

Losses, averaged over the N positions (and, for ``mse``, the entries) they score::

    mse:                    L = (1/N) sum_i (y_hat_i - y_i)^2    dL/dy_hat = 2 (y_hat - y) / N
    softmax:                p_k = exp(y_hat_k / tau) / sum_j exp(y_hat_j / tau)
    softmax_cross_entropy:  L = -(1/N) sum_n log p_n[y_n]  (nats)
                            dL/dy_hat = (p - onehot(y)) / N

These match ``torch.nn.functional.mse_loss`` and ``cross_entropy`` (reduction 'mean').
This module never imports torch.
"""

from __future__ import annotations

import numpy as np

from companion import checks

FAMILY = "readout"


def forward(h: np.ndarray, W_hq: np.ndarray, b_q: np.ndarray) -> tuple[np.ndarray, dict]:
    """The readout y_hat = W_hq h + b_q for every row of ``h``.

    Shapes: ``h`` (..., H), e.g. (T, B, H) or (B, H); ``W_hq`` (Q, H); ``b_q`` (Q,).
    Returns ``(out, cache)``, ``out`` being y_hat, of shape (..., Q).
    """
    _readout_args(h, W_hq, b_q)
    out = h @ W_hq.T + b_q  # y_hat_t = W_hq h_t + b_q
    return out, {"family": FAMILY, "h": h, "W_hq": W_hq}


def backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Gradients of the readout: ``(dh, {"W_hq": dW_hq, "b_q": db_q})``.

    Shapes: ``dout`` (..., Q) like ``out``; ``dh`` (..., H); ``dW_hq`` (Q, H); ``db_q`` (Q,).
    Sums run over every leading axis (all time steps and batch rows).
    """
    checks.cache(cache, FAMILY)
    h, W_hq = cache["h"], cache["W_hq"]
    dout = checks.float_array("dout", dout)
    expected = h.shape[:-1] + (W_hq.shape[0],)
    if dout.shape != expected:
        raise ValueError(f"dout must have the shape of out, {expected}; got {dout.shape}")
    checks.same_dtype(dout=dout, h=h)
    dh = dout @ W_hq  # dh_t = W_hq^T dy_hat_t
    do2 = dout.reshape(-1, W_hq.shape[0])  # (N, Q), N = product of the leading axes
    h2 = h.reshape(-1, W_hq.shape[1])  # (N, H)
    grads = {"W_hq": do2.T @ h2, "b_q": do2.sum(axis=0)}  # sum_t dy_hat_t h_t^T, sum_t dy_hat_t
    return dh, grads


def init_params(
    H: int, Q: int, rng: np.random.Generator, dtype: type = np.float64
) -> dict[str, np.ndarray]:
    """Draw ``W_hq`` (Q, H) and ``b_q`` (Q,) uniform on (-1/sqrt(H), 1/sqrt(H)), as torch does."""
    rng = checks.generator(rng)
    H, Q = checks.positive_int("H", H), checks.positive_int("Q", Q)
    k = 1.0 / np.sqrt(H)
    return {
        "W_hq": rng.uniform(-k, k, size=(Q, H)).astype(dtype),
        "b_q": rng.uniform(-k, k, size=(Q,)).astype(dtype),
    }


def mse(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over all N entries and its gradient: ``(L, dout)``.

    L = (1/N) sum_i (out_i - y_i)^2,  dL/dout = 2 (out - y) / N. ``out`` and ``y`` share a shape.
    """
    out = checks.float_array("out", out)
    y = checks.float_array("y", y)
    if out.shape != y.shape:
        raise ValueError(f"mse needs out and y of one shape; got {out.shape} and {y.shape}")
    if out.size == 0:
        raise ValueError(f"mse needs at least one entry; got shape {out.shape}")
    checks.same_dtype(out=out, y=y)
    diff = out - y
    return float(np.mean(diff**2)), diff * out.dtype.type(2.0 / out.size)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p_k = y_hat_k - m - log sum_j exp(y_hat_j - m), m = max_j y_hat_j, over the last axis."""
    logits = checks.float_array("logits", logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)  # the largest is 0: no overflow
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """p_k = exp(y_hat_k / tau) / sum_j exp(y_hat_j / tau) over the last axis; shape of ``logits``.

    Stable: the maximum is subtracted before exponentiating. ``temperature`` tau > 0; a small
    tau sharpens the distribution towards the argmax, a large one flattens it.
    """
    logits = checks.float_array("logits", logits)
    tau = checks.positive_number("temperature", temperature)
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., V) with V >= 1; got {logits.shape}")
    z = (logits - logits.max(axis=-1, keepdims=True)) / logits.dtype.type(tau)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy (nats) of integer targets under softmax(logits), and its gradient.

    Shapes: ``logits`` (..., V), e.g. (T, B, V) or (N, V); ``targets`` the leading shape,
    e.g. (T, B), integers in [0, V). With N the number of positions::

        L = -(1/N) sum_n log softmax(o_n)[y_n],     dL/do_n = (softmax(o_n) - onehot(y_n)) / N

    Returns ``(L, dlogits)``; ``dlogits`` has the shape and dtype of ``logits``.
    """
    V = _targets_args(logits, targets)
    N = targets.size
    logp = log_softmax(logits).reshape(N, V)  # (N, V)
    rows = np.arange(N)
    cols = targets.reshape(N)
    loss = -float(logp[rows, cols].mean())  # L = -(1/N) sum_n log p_n[y_n]
    dlogits = np.exp(logp)  # p
    dlogits[rows, cols] -= 1.0  # p - onehot(y)
    dlogits *= logits.dtype.type(1.0 / N)
    return loss, dlogits.reshape(logits.shape)


def _readout_args(h: object, W_hq: object, b_q: object) -> None:
    """The checks of ``forward``: h (..., H), W_hq (Q, H), b_q (Q,), one floating dtype."""
    h = checks.float_array("h", h)
    W_hq = checks.float_array("W_hq", W_hq)
    b_q = checks.float_array("b_q", b_q)
    if h.ndim < 1:
        raise ValueError(f"h must have shape (..., H) with at least one dimension; got {h.shape}")
    H = h.shape[-1]
    if W_hq.ndim != 2 or W_hq.shape[1] != H:
        raise ValueError(f"W_hq must have shape (Q, H) with H = {H}; got {W_hq.shape}")
    Q = W_hq.shape[0]
    if b_q.shape != (Q,):
        raise ValueError(f"b_q must have shape (Q,) = ({Q},); got {b_q.shape}")
    checks.same_dtype(h=h, W_hq=W_hq, b_q=b_q)


def _targets_args(logits: object, targets: object) -> int:
    """The checks of ``softmax_cross_entropy``; returns V."""
    logits = checks.float_array("logits", logits)
    if not isinstance(targets, np.ndarray):
        raise TypeError(f"targets must be a numpy array of integers; got {type(targets).__name__}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets must have an integer dtype; got dtype {targets.dtype}")
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., V) with V >= 1; got {logits.shape}")
    V = logits.shape[-1]
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets must have the leading shape of logits, {logits.shape[:-1]}; "
            f"got {targets.shape}"
        )
    if targets.size == 0:
        raise ValueError(f"need at least one position; got logits of shape {logits.shape}")
    lo, hi = int(targets.min()), int(targets.max())
    if lo < 0 or hi >= V:
        raise ValueError(f"targets must lie in [0, V) = [0, {V}); got values in [{lo}, {hi}]")
    return V
