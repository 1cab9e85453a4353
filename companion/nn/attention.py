"""Additive and dot-product attention as torch modules, time-major as the recurrent layers.

A decoder state, the query q_t (t = 1 .. Tq), reads the encoder states k_j (j = 1 .. S, the
keys) through a score e_tj for each source position, normalised over the real (unmasked)
positions into weights a_tj, which average the values v_j (the keys themselves unless other
values are given) into the context c_t::

    additive (Bahdanau et al. 2015):  e_tj = v^T tanh(W_q q_t + W_k k_j)
    dot (Luong et al. 2015):          e_tj = q_t^T k_j
    scaled dot (Vaswani et al. 2017): e_tj = q_t^T k_j / sqrt(d),    d = Dq = Dk
    weights:                          a_tj = exp(e_tj) / sum_{i real} exp(e_ti),  0 if j is masked
    context:                          c_t  = sum_j a_tj v_j

``W_q`` is (A, Dq), ``W_k`` (A, Dk) and ``v`` (A,), A the attention size: Bahdanau et al.'s
W_a, U_a and v_a, without a bias, as in the paper. The dot product has no parameters and needs
Dq = Dk. Shapes follow the recurrent layers (time-major): query (Tq, B, Dq), keys (S, B, Dk),
a mask (S, B) of booleans, True at a real position and False at padding, values (S, B, Dv);
both modules return ``(context, weights)``, (Tq, B, Dv) and (Tq, B, S). A decoder step passes
Tq = 1. The hand-written backward of both scores is in ``companion.ref.attention``; here
autograd does it. This module imports torch and never matplotlib.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from companion import checks
from companion.nn.base import _kind, check_dtype, check_tensor


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The softmax of ``scores`` over the last axis, restricted to the real positions.

    a_j = exp(e_j) / sum_{i: mask_i} exp(e_i) where ``mask`` is True, and exactly 0 where it
    is False (the masked scores are set to -inf before the softmax, so they receive no
    gradient either).

    Args:
        scores: a floating tensor (..., S).
        mask: a boolean tensor broadcastable to ``scores.shape`` (True: a real position), or
            None for no mask.

    Returns:
        The weights, of the shape of ``scores``; every row sums to 1 over its real positions.

    Raises:
        TypeError: ``scores`` not a floating tensor; ``mask`` not a boolean tensor.
        ValueError: S = 0 (an empty source); a mask that does not broadcast to the scores; a
            row with no real position (an empty source: its weights would be 0 / 0).
    """
    if not isinstance(scores, torch.Tensor) or not scores.is_floating_point():
        got = f"dtype {scores.dtype}" if isinstance(scores, torch.Tensor) else _kind(scores)
        raise TypeError(f"scores must be a floating torch.Tensor (..., S); got {got}")
    if scores.dim() == 0 or scores.shape[-1] == 0:
        raise ValueError(
            f"scores must have shape (..., S) with S >= 1; got {tuple(scores.shape)} "
            "(an empty source has nothing to attend to)"
        )
    if mask is None:
        return torch.softmax(scores, dim=-1)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = f"dtype {mask.dtype}" if isinstance(mask, torch.Tensor) else _kind(mask)
        raise TypeError(f"mask must be a torch.bool tensor (True: a real position); got {got}")
    try:
        full = torch.broadcast_shapes(mask.shape, scores.shape)
    except RuntimeError:
        full = None
    if full != scores.shape:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
            f"{tuple(scores.shape)}"
        )
    mask = mask.expand(scores.shape)
    empty = ~mask.any(dim=-1)  # (...,)
    if empty.any():
        row = tuple(int(i) for i in empty.nonzero()[0])
        raise ValueError(
            f"mask has no real position in row {row} of the scores {tuple(scores.shape)}: an "
            "empty source; every row needs at least one True"
        )
    return torch.softmax(scores.masked_fill(~mask, -math.inf), dim=-1)


class AdditiveAttention(nn.Module):
    """Additive attention (Bahdanau, Cho & Bengio 2015), e_tj = v^T tanh(W_q q_t + W_k k_j).

    Our ``W_q`` is Bahdanau et al.'s W_a (it multiplies the decoder state), ``W_k`` their U_a
    (the encoder states) and ``v`` their v_a; no bias, as in the paper. Each parameter is
    drawn uniform on (-1/sqrt(fan_in), 1/sqrt(fan_in)), the bound of ``torch.nn.Linear``'s
    weights, with fan_in = Dq, Dk and A.

    Args:
        query_size: Dq, the size of the decoder state.
        key_size: Dk, the size of an encoder state (2H for a bidirectional encoder).
        attention_size: A, the size of the hidden layer of the score.
        dtype: as for any torch module (default float32).

    ``forward(query, keys, mask=None, values=None, *, projected_keys=None) -> (context,
    weights)``: query (Tq, B, Dq), keys (S, B, Dk), mask (S, B) bool or None (every position
    real), values (S, B, Dv) or None (the keys); context (Tq, B, Dv), weights (Tq, B, S).
    W_k k_j is computed once per call for all Tq queries; a decoder that calls once per step
    can compute it once per sequence with ``project_keys(keys)`` and pass it as
    ``projected_keys`` (S, B, A).

    Raises:
        TypeError: a size that is not an integer; an input that is not a tensor, or whose
            dtype is not the parameters'; a mask that is not a torch.bool tensor.
        ValueError: a size below 1; an input that is not 3-dimensional, whose last size is
            not Dq (query) or Dk (keys), or whose batch size differs from the query's; S = 0
            (an empty source) or Tq = 0; a mask not of shape (S, B), or with a batch column
            with no real position; ``projected_keys`` not of shape (S, B, A).
    """

    def __init__(
        self, query_size: int, key_size: int, attention_size: int, dtype: torch.dtype | None = None
    ) -> None:
        super().__init__()
        self.query_size = checks.positive_int("query_size", query_size)
        self.key_size = checks.positive_int("key_size", key_size)
        self.attention_size = checks.positive_int("attention_size", attention_size)
        A = self.attention_size
        self.W_q = nn.Parameter(torch.empty(A, self.query_size, dtype=dtype))
        self.W_k = nn.Parameter(torch.empty(A, self.key_size, dtype=dtype))
        self.v = nn.Parameter(torch.empty(A, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W_q, W_k and v, in that order, uniform on (-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        with torch.no_grad():
            for p in (self.W_q, self.W_k, self.v):
                bound = 1 / math.sqrt(p.shape[-1])  # fan_in: Dq, Dk, A
                p.uniform_(-bound, bound)

    def extra_repr(self) -> str:
        return f"{self.query_size}, {self.key_size}, {self.attention_size}"

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """W_k k_j for every position: keys (S, B, Dk) -> (S, B, A)."""
        keys = _check_3d("keys", keys, "(S, B, Dk)")
        if keys.shape[-1] != self.key_size:
            raise ValueError(
                f"keys must have shape (S, B, Dk) with Dk={self.key_size}; got {tuple(keys.shape)}"
            )
        return F.linear(check_dtype("keys", keys, self.W_k.dtype), self.W_k)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        mask: torch.Tensor | None = None,
        values: torch.Tensor | None = None,
        *,
        projected_keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(context, weights)``, (Tq, B, Dv) and (Tq, B, S), for query (Tq, B, Dq), keys
        (S, B, Dk), mask (S, B) or None, values (S, B, Dv) or None (the keys), and
        ``projected_keys`` = ``project_keys(keys)`` (S, B, A) or None (computed here)."""
        sizes = (self.query_size, self.key_size)
        query, keys, values = _check_forward_args(query, keys, mask, values, sizes, self.W_q.dtype)
        S, B, _ = keys.shape
        if projected_keys is None:
            kW = F.linear(keys, self.W_k)  # W_k k_j, (S, B, A)
        else:
            kW = check_tensor(
                "projected_keys", projected_keys, (S, B, self.attention_size), self.W_k.dtype
            )
        kW = kW.transpose(0, 1)[:, None]  # (S, B, A) -> (B, 1, S, A)
        qW = F.linear(query, self.W_q).transpose(0, 1)[:, :, None]  # (Tq, B, A) -> (B, Tq, 1, A)
        e = torch.tanh(qW + kW) @ self.v  # (B, Tq, S, A) @ (A,) -> (B, Tq, S)
        return _attend(e, mask, values)


class DotProductAttention(nn.Module):
    """Dot-product attention, e_tj = q_t^T k_j (Luong, Pham & Manning 2015, "dot"), or
    q_t^T k_j / sqrt(d) with ``scaled=True`` (Vaswani et al. 2017), d = Dq = Dk.

    No parameters: a model that needs Dq != Dk projects the query first (Luong et al.'s
    "general" score, q_t^T W_a k_j, is a ``torch.nn.Linear`` before this module). The query,
    keys and values must share one floating dtype. With the same inputs laid out batch-first
    it computes ``torch.nn.functional.scaled_dot_product_attention`` (``scale=1.0`` when
    unscaled; ``attn_mask`` (B, Tq, S), True where ours is True).

    ``forward(query, keys, mask=None, values=None) -> (context, weights)``, shapes as
    :class:`AdditiveAttention`'s.

    Raises:
        TypeError: ``scaled`` not a bool; an input that is not a floating tensor, or whose
            dtype is not the query's; a mask that is not a torch.bool tensor.
        ValueError: Dq != Dk (naming both); an input that is not 3-dimensional or whose
            batch size differs from the query's; S = 0 (an empty source) or Tq = 0; a mask
            not of shape (S, B), or with a batch column with no real position.
    """

    def __init__(self, scaled: bool = False) -> None:
        super().__init__()
        if not isinstance(scaled, bool):
            raise TypeError(f"scaled must be a bool; got {type(scaled).__name__} {scaled!r}")
        self.scaled = scaled

    def extra_repr(self) -> str:
        return f"scaled={self.scaled}"

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        mask: torch.Tensor | None = None,
        values: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(context, weights)``, (Tq, B, Dv) and (Tq, B, S), for query (Tq, B, D), keys
        (S, B, D), mask (S, B) or None, values (S, B, Dv) or None (the keys)."""
        query, keys, values = _check_forward_args(query, keys, mask, values, None, None)
        q = query.transpose(0, 1)  # (Tq, B, D) -> (B, Tq, D)
        k = keys.permute(1, 2, 0)  # (S, B, D) -> (B, D, S)
        e = q @ k  # q_t^T k_j, (B, Tq, S)
        if self.scaled:
            e = e / math.sqrt(query.shape[-1])
        return _attend(e, mask, values)


def _attend(
    e: torch.Tensor, mask: torch.Tensor | None, values: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and context from the scores e (B, Tq, S): (Tq, B, Dv) and (Tq, B, S)."""
    a = masked_softmax(e, None if mask is None else mask.T[:, None, :])  # (B, Tq, S)
    context = a @ values.transpose(0, 1)  # (B, Tq, S) @ (B, S, Dv) -> (B, Tq, Dv)
    return context.transpose(0, 1), a.transpose(0, 1)  # (Tq, B, Dv), (Tq, B, S)


def _check_forward_args(
    query: object,
    keys: object,
    mask: object,
    values: object,
    sizes: tuple[int, int] | None,
    dtype: torch.dtype | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check the inputs of ``forward``: query (Tq, B, Dq), keys (S, B, Dk), mask (S, B)
    or None, values (S, B, Dv) or None, with (Dq, Dk) = ``sizes`` (None: Dq = Dk) and
    every dtype ``dtype`` (None: the query's). Returns ``(query, keys, values)``, the
    values being the keys when None."""
    query = _check_3d("query", query, "(Tq, B, Dq)")
    keys = _check_3d("keys", keys, "(S, B, Dk)")
    (Tq, B, Dq), (S, Bk, Dk) = query.shape, keys.shape
    if sizes is not None:
        for name, t, shape, size in [
            ("query", query, "(Tq, B, Dq) with Dq", sizes[0]),
            ("keys", keys, "(S, B, Dk) with Dk", sizes[1]),
        ]:
            if t.shape[-1] != size:
                raise ValueError(f"{name} must have shape {shape}={size}; got {tuple(t.shape)}")
    elif Dq != Dk:
        raise ValueError(
            f"dot-product attention needs query and keys of one size; got Dq={Dq} "
            f"(query {tuple(query.shape)}) and Dk={Dk} (keys {tuple(keys.shape)}): project "
            "one of them first (Luong et al.'s 'general' score)"
        )
    if Bk != B:
        raise ValueError(
            f"query {tuple(query.shape)} and keys {tuple(keys.shape)} must have one batch "
            f"size B (axis 1, time-major); got {B} and {Bk}"
        )
    if S == 0:
        raise ValueError(
            f"keys have S = 0 positions (shape {tuple(keys.shape)}): an empty source, "
            "nothing to attend to"
        )
    if Tq == 0:
        raise ValueError(f"query has Tq = 0 steps (shape {tuple(query.shape)}); Tq >= 1")
    if mask is not None:
        _check_mask(mask, S, B)
    if values is None:
        values = keys
    else:
        values = _check_3d("values", values, "(S, B, Dv)")
        if tuple(values.shape[:2]) != (S, B):
            raise ValueError(
                f"values must have shape (S, B, Dv) with (S, B) = {(S, B)} as the keys; "
                f"got {tuple(values.shape)}"
            )
    named = {"query": query, "keys": keys, "values": values}
    if dtype is not None:
        for name, t in named.items():
            check_dtype(name, t, dtype)
    else:
        if not query.is_floating_point():
            raise TypeError(f"query must be a floating tensor; got dtype {query.dtype}")
        for name, t in named.items():
            if t.dtype != query.dtype:
                raise TypeError(
                    f"{name} has dtype {t.dtype} but the query is {query.dtype}; query, "
                    f"keys and values must share one dtype: cast with {name}.to("
                    f"{query.dtype})"
                )
    return query, keys, values


def _check_3d(name: str, t: object, shape: str) -> torch.Tensor:
    """``t`` if it is a 3-dimensional tensor, read as ``shape`` (time-major)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}; got {_kind(t)}")
    if t.dim() != 3:
        hint = " (one decoder step: pass query[None], Tq = 1)" if t.dim() == 2 else ""
        raise ValueError(
            f"{name} must have shape {shape}, time-major with 3 dimensions; got "
            f"{t.dim()} dimension(s), shape {tuple(t.shape)}{hint}"
        )
    return t


def _check_mask(mask: object, S: int, B: int) -> torch.Tensor:
    """``mask`` if it is a torch.bool tensor (S, B) with a real position in every column."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = f"dtype {mask.dtype}" if isinstance(mask, torch.Tensor) else _kind(mask)
        raise TypeError(
            f"mask must be a torch.bool tensor of shape (S, B) = {(S, B)} (True: a real "
            f"position); got {got}"
        )
    if tuple(mask.shape) != (S, B):
        raise ValueError(
            f"mask must have shape (S, B) = {(S, B)}, time-major as the keys; got "
            f"{tuple(mask.shape)}"
        )
    empty = (~mask.any(dim=0)).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"mask has no real position in batch column(s) {empty}: an empty source; every "
            "column needs at least one True"
        )
    return mask
