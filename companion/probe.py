"""A gradient-norm probe: how large is dL/dh_t at every step t of a sequence?

For a loss that reads only the last state, L = L(h_T), backpropagation through time gives::

    dL/dh_{t-1} = W_hh^T Phi_t dL/dh_t          t = T, T-1, ..., 1,   Phi_t = diag(phi'(a_t))
    dL/dh_t     = [prod_{k=t+1}^{T} Phi_k W_hh]^T dL/dh_T

so ||dL/dh_t|| as a function of the distance T - t shows directly whether the gradient that
reaches early steps vanishes or explodes. ``grad_norms`` runs this recursion for the numpy
reference RNN (``companion.ref.rnn``); ``grad_norms_torch`` gets the same numbers from torch
autograd for a ``torch.nn.RNN``, ``GRU`` or ``LSTM`` (for the LSTM, the gradient reaching h_t;
the cell state carries a second path). ``fit_rate`` fits the geometric rate.

Both probes return an array of shape (T + 1,) or (T + 1, B): entry t is ||dL/dh_t|| for
t = 0 (the initial state) .. T, the Euclidean norm over the hidden units of each example.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion import checks
from companion.ref import rnn
from companion.ref.activations import get as _activation

REDUCTIONS = ("mean", "none")


def _reduce(norms: np.ndarray, reduce: str) -> np.ndarray:
    checks.one_of("reduce", reduce, REDUCTIONS)
    return norms.mean(axis=1) if reduce == "mean" else norms


def grad_norms(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    h0: np.ndarray | None = None,
    nonlinearity: str = "tanh",
    dh_T: np.ndarray | None = None,
    reduce: str = "mean",
) -> np.ndarray:
    """Per-step norms ||dL/dh_t|| for the numpy Elman RNN, with L = sum_b <dh_T[b], h_T[b]>.

    Args:
        params: ``companion.ref.rnn`` parameters (W_hh of shape (H, H)).
        x: inputs (T, B, D).
        h0: initial state (B, H), or None for zeros.
        nonlinearity: 'tanh' or 'relu'.
        dh_T: dL/dh_T (B, H); None gives the unit vector (1, ..., 1) / sqrt(H) for every
            example, so that ||dL/dh_T|| = 1 and the curve is the gain from T back to t.
        reduce: 'mean' over the batch, shape (T + 1,); 'none', shape (T + 1, B).
    """
    _, _, cache = rnn.forward(x, h0, params, nonlinearity)
    T, B, _ = x.shape
    H = params["W_hh"].shape[1]
    if dh_T is None:
        dh_T = np.full((B, H), 1.0 / np.sqrt(H), dtype=x.dtype)
    if not isinstance(dh_T, np.ndarray) or dh_T.shape != (B, H):
        raise ValueError(
            f"dh_T must be an array of shape (B, H) = ({B}, {H}); got {np.shape(dh_T)}"
        )
    _, dphi = _activation(nonlinearity)
    W_hh, a_seq = params["W_hh"], cache["a_seq"]
    norms = np.empty((T + 1, B))
    dh = dh_T.astype(x.dtype)
    norms[T] = np.linalg.norm(dh, axis=1)
    for t in range(T, 0, -1):  # h_t is h_seq[t - 1]; a_t is a_seq[t - 1]
        dh = (dh * dphi(a_seq[t - 1])) @ W_hh  # dL/dh_{t-1} = W_hh^T (phi'(a_t) * dL/dh_t)
        norms[t - 1] = np.linalg.norm(dh, axis=1)
    return _reduce(norms, reduce)


def grad_norms_torch(
    module,
    x,
    h0=None,
    loss_fn: Callable | None = None,
    reduce: str = "mean",
) -> np.ndarray:
    """Per-step norms ||dL/dh_t|| for a torch RNN/GRU/LSTM, from autograd.

    The module is unrolled one step at a time so that each h_t is a tensor whose gradient can
    be kept (``retain_grad``). ``module`` is a one-layer ``torch.nn.RNN``, ``GRU`` or ``LSTM``
    with ``batch_first=False``, or a model holding one as ``.encoder``
    (``companion.models.SequenceModel``). ``x`` is (T, B, D), numpy or torch, cast to the
    module's dtype. ``loss_fn(h_T) -> scalar``; None gives L = sum_b <u, h_T[b]> with u the
    unit vector (1, ..., 1) / sqrt(H), as ``grad_norms`` does. The module's parameter
    gradients are left untouched.
    """
    import torch

    rnn_module = getattr(module, "encoder", module)
    if not isinstance(rnn_module, torch.nn.RNNBase):
        raise TypeError(
            f"module must be a torch.nn.RNN, GRU or LSTM, or have one as .encoder; "
            f"got {type(module).__name__}"
        )
    if rnn_module.batch_first or rnn_module.num_layers != 1 or rnn_module.bidirectional:
        raise ValueError(
            "the probe unrolls one layer in one direction over time-major input (T, B, D); got "
            f"num_layers={rnn_module.num_layers}, bidirectional={rnn_module.bidirectional}, "
            f"batch_first={rnn_module.batch_first}; expected 1, False, False"
        )
    dtype = next(rnn_module.parameters()).dtype
    x = (x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))).to(dtype)
    if x.dim() != 3 or x.shape[-1] != rnn_module.input_size:
        raise ValueError(f"x must have shape (T, B, {rnn_module.input_size}); got {tuple(x.shape)}")
    T, B, _ = x.shape
    H = rnn_module.hidden_size
    lstm = isinstance(rnn_module, torch.nn.LSTM)
    h = torch.zeros(1, B, H, dtype=dtype) if h0 is None else torch.as_tensor(h0).to(dtype)[None]
    state = (h, torch.zeros_like(h)) if lstm else h
    hs = [h]
    with torch.enable_grad():
        hs[0].requires_grad_(True)
        for t in range(T):
            _, state = rnn_module(x[t : t + 1], state)
            h = state[0] if lstm else state
            h.retain_grad()
            hs.append(h)
        h_T = hs[-1][0]  # (B, H)
        if loss_fn is None:
            loss = (h_T / H**0.5).sum()
        else:
            loss = loss_fn(h_T)
        grads = torch.autograd.grad(loss, hs, allow_unused=True)
    norms = np.stack(
        [np.zeros(B) if g is None else g[0].detach().double().norm(dim=1).numpy() for g in grads]
    )  # (T + 1, B)
    return _reduce(norms, reduce)


def fit_rate(norms: np.ndarray, skip: int = 0) -> float:
    """Fit ||dL/dh_{T-k}|| ~ C r^k by least squares on log norms; return the rate r per step.

    ``norms`` (T + 1,) is indexed by t, as the probes return it, so the distance is
    k = T - t. ``skip`` ignores the first ``skip`` distances (a transient near the loss).
    The slope of log ||.|| against k is log r; r < 1 means vanishing, r > 1 exploding.
    """
    skip = checks.integer("skip", skip, minimum=0)
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim != 1 or norms.size - skip < 2:
        raise ValueError(
            f"norms must be 1-D with at least skip + 2 = {skip + 2} entries; got {norms.shape}"
        )
    k = np.arange(norms.size)[::-1]  # distance T - t for t = 0..T
    keep = (k >= skip) & (norms > 0) & np.isfinite(norms)
    if keep.sum() < 2:
        raise ValueError("fewer than two positive, finite norms to fit")
    slope = np.polyfit(k[keep], np.log(norms[keep]), 1)[0]
    return float(np.exp(slope))
