"""Additive and dot-product attention in numpy: one decoder step, forward and backward by hand.

One query q (the decoder state) per batch row reads the encoder states k_j, j = 1 .. S (the
keys, which are also the values here), masked positions excluded::

    u_j = W_q q + W_k k_j                      (A,)      W_q (A, Dq), W_k (A, Dk)
    s_j = tanh(u_j)                            (A,)
    e_j = v^T s_j                                        additive (Bahdanau et al. 2015)
    e_j = q^T k_j,  or  q^T k_j / sqrt(d)                dot (Luong et al. 2015), scaled
                                                         (Vaswani et al. 2017), d = Dq = Dk
    a_j = exp(e_j) / sum_{i real} exp(e_i)               0 where j is masked
    c   = sum_j a_j k_j                        (Dk,)

``W_q``, ``W_k`` and ``v`` are Bahdanau et al.'s W_a, U_a and v_a, without a bias. Backward,
from dc = dL/dc and, if the loss also reads the weights, da' = dL/da::

    da_j = dc^T k_j + da'_j                              through c = sum_j a_j k_j
    de_j = a_j (da_j - sum_i a_i da_i)                   the softmax's Jacobian
    dk_j = a_j dc   (the value path)   + the score path below
    additive:  dv = sum_j de_j s_j,   du_j = de_j v * (1 - s_j^2)
               dW_q = (sum_j du_j) q^T,   dW_k = sum_j du_j k_j^T
               dq = W_q^T sum_j du_j,     dk_j += W_k^T du_j
    dot:       dq = sum_j de_j k_j / r,   dk_j += de_j q / r,     r = sqrt(d) or 1

A masked position has a_j = 0, so de_j = 0 and du_j = 0: its key gets no gradient, and its
score none. The shapes are batched: query (B, Dq), keys (S, B, Dk), mask (S, B) of booleans
(True: a real position), context (B, Dk), weights (B, S). The torch modules for any number of
queries are ``companion.nn.attention``; this module never imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from companion import checks

PARAM_NAMES = ("W_q", "W_k", "v")


def init_params(
    query_size: int,
    key_size: int,
    attention_size: int,
    rng: np.random.Generator,
    dtype: type = np.float64,
) -> dict[str, np.ndarray]:
    """Draw ``W_q`` (A, Dq), ``W_k`` (A, Dk) and ``v`` (A,), in that order, each uniform on
    (-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = Dq, Dk and A (``torch.nn.Linear``'s bound,
    as ``companion.nn.attention.AdditiveAttention`` draws them)."""
    rng = checks.generator(rng)
    Dq = checks.positive_int("query_size", query_size)
    Dk = checks.positive_int("key_size", key_size)
    A = checks.positive_int("attention_size", attention_size)
    shapes = {"W_q": (A, Dq), "W_k": (A, Dk), "v": (A,)}
    return {
        k: rng.uniform(-1 / np.sqrt(s[-1]), 1 / np.sqrt(s[-1]), size=s).astype(dtype)
        for k, s in shapes.items()
    }


def additive_forward(
    query: np.ndarray,
    keys: np.ndarray,
    params: dict[str, np.ndarray],
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Additive attention, e_j = v^T tanh(W_q q + W_k k_j), for one query per batch row.

    Args:
        query: q, (B, Dq), the decoder state.
        keys: k, (S, B, Dk), time-major encoder states; also the values.
        params: ``W_q`` (A, Dq), ``W_k`` (A, Dk), ``v`` (A,), in the keys' dtype.
        mask: (S, B) booleans, True at a real position, or None (all real).

    Returns:
        ``(context, weights, cache)``: c (B, Dk), a (B, S) (exactly 0 where masked), and what
        ``additive_backward`` needs.

    Raises:
        TypeError: an array that is not a float array, or not of the parameters' dtype; a
            mask that is not boolean; params not a dict.
        ValueError: a wrong number of dimensions; batch sizes that differ; Dq or Dk not the
            parameters'; S = 0 (an empty source); a mask not (S, B), or with a batch column
            with no real position.
    """
    B, S = _check_query_keys(query, keys)
    _check_params(params, query.shape[1], keys.shape[2])
    checks.same_dtype(query=query, keys=keys, **params)
    mask = _check_mask(mask, S, B)
    W_q, W_k, v = (params[k] for k in PARAM_NAMES)
    qW = query @ W_q.T  # W_q q, (B, A)
    kW = (keys @ W_k.T).transpose(1, 0, 2)  # W_k k_j, (S, B, A) -> (B, S, A)
    s = np.tanh(qW[:, None, :] + kW)  # s_j = tanh(u_j), (B, S, A)
    e = s @ v  # e_j = v^T s_j, (B, S)
    a = _masked_softmax(e, mask)  # (B, S)
    context = np.einsum("bs,sbd->bd", a, keys)  # c = sum_j a_j k_j, (B, Dk)
    cache = {"family": "additive", "query": query, "keys": keys, "params": params, "s": s, "a": a}
    return context, a, cache


def additive_backward(
    dcontext: np.ndarray, cache: dict, dweights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The gradients of ``additive_forward`` by hand (equations in the module docstring).

    Args:
        dcontext: dL/dc, (B, Dk).
        cache: the third value returned by ``additive_forward``.
        dweights: dL/da, (B, S), when the loss also reads the weights; None for zeros.

    Returns:
        ``(dquery, dkeys, grads)``: (B, Dq), (S, B, Dk) (zero at masked positions), and a dict
        ``W_q`` (A, Dq), ``W_k`` (A, Dk), ``v`` (A,). No argument is modified.

    Raises:
        ValueError: a cache not from ``additive_forward``; dcontext or dweights of the
            wrong shape. TypeError: either not a float array of the cache's dtype.
    """
    checks.cache(cache, "additive", "companion.ref.attention.additive_forward")
    query, keys, s, a = cache["query"], cache["keys"], cache["s"], cache["a"]
    W_q, W_k, v = (cache["params"][k] for k in PARAM_NAMES)
    de, dkeys = _softmax_and_values_backward(dcontext, dweights, keys, a)  # (B, S), (S, B, Dk)
    du = de[..., None] * v * (1.0 - s**2)  # de_j v through tanh, (B, S, A)
    du_q = du.sum(axis=1)  # sum_j du_j, what reaches W_q q, (B, A)
    grads = {
        "W_q": du_q.T @ query,  # (A, Dq)
        "W_k": np.einsum("bsa,sbd->ad", du, keys),  # sum_j du_j k_j^T, (A, Dk)
        "v": np.einsum("bs,bsa->a", de, s),  # sum_j de_j s_j, (A,)
    }
    dquery = du_q @ W_q  # W_q^T sum_j du_j, (B, Dq)
    dkeys = dkeys + du.transpose(1, 0, 2) @ W_k  # the score path W_k^T du_j, (S, B, Dk)
    return dquery, dkeys, grads


def dot_forward(
    query: np.ndarray, keys: np.ndarray, mask: np.ndarray | None = None, scaled: bool = False
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Dot-product attention, e_j = q^T k_j (Luong et al.'s "dot"), divided by sqrt(d) when
    ``scaled`` (Vaswani et al.), for one query per batch row.

    Shapes: query (B, D), keys (S, B, D), mask (S, B) booleans or None; returns ``(context,
    weights, cache)``, (B, D) and (B, S). Raises as ``additive_forward``, and ValueError if
    the query's size is not the keys' (naming both), TypeError if ``scaled`` is not a bool.
    """
    B, S = _check_query_keys(query, keys)
    if not isinstance(scaled, bool):
        raise TypeError(f"scaled must be a bool; got {type(scaled).__name__} {scaled!r}")
    Dq, Dk = query.shape[1], keys.shape[2]
    if Dq != Dk:
        raise ValueError(
            f"dot-product attention needs query and keys of one size; got Dq={Dq} (query "
            f"{query.shape}) and Dk={Dk} (keys {keys.shape})"
        )
    checks.same_dtype(query=query, keys=keys)
    mask = _check_mask(mask, S, B)
    r = np.sqrt(Dk) if scaled else 1.0
    e = np.einsum("bd,sbd->bs", query, keys) / r  # q^T k_j / r, (B, S)
    a = _masked_softmax(e, mask)  # (B, S)
    context = np.einsum("bs,sbd->bd", a, keys)  # (B, D)
    cache = {"family": "dot", "query": query, "keys": keys, "r": r, "a": a}
    return context, a, cache


def dot_backward(
    dcontext: np.ndarray, cache: dict, dweights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The gradients of ``dot_forward`` by hand: ``(dquery, dkeys)``, (B, D) and (S, B, D).

    ``dcontext`` (B, D), ``dweights`` (B, S) or None; equations in the module docstring.
    Raises as ``additive_backward``.
    """
    checks.cache(cache, "dot", "companion.ref.attention.dot_forward")
    query, keys, r, a = cache["query"], cache["keys"], cache["r"], cache["a"]
    de, dkeys = _softmax_and_values_backward(dcontext, dweights, keys, a)  # (B, S), (S, B, D)
    dquery = np.einsum("bs,sbd->bd", de, keys) / r  # sum_j de_j k_j / r, (B, D)
    dkeys = dkeys + de.T[:, :, None] * query / r  # de_j q / r, (S, B, D)
    return dquery, dkeys


# --- the parts both scores share --------------------------------------------------------------
def _masked_softmax(e: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """a (B, S) = softmax over the real positions of e (B, S); exactly 0 at the masked ones."""
    if mask is not None:
        e = np.where(mask.T, e, -np.inf)  # exp(-inf) = 0
    z = np.exp(e - e.max(axis=1, keepdims=True))  # the max trick against overflow
    return z / z.sum(axis=1, keepdims=True)


def _softmax_and_values_backward(
    dcontext: object, dweights: object, keys: np.ndarray, a: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """From dL/dc and dL/da: de (B, S), through the softmax, and the value path a_j dc."""
    S, B, Dk = keys.shape
    dcontext = _check_grad("dcontext", dcontext, (B, Dk), keys.dtype)
    da = np.einsum("bd,sbd->bs", dcontext, keys)  # dc^T k_j, (B, S)
    if dweights is not None:
        da = da + _check_grad("dweights", dweights, (B, S), keys.dtype)
    de = a * (da - np.sum(a * da, axis=1, keepdims=True))  # a_j (da_j - sum_i a_i da_i)
    dkeys = a.T[:, :, None] * dcontext  # a_j dc, (S, B, Dk)
    return de, dkeys


# --- the checks -----------------------------------------------------------------------------
def _check_query_keys(query: object, keys: object) -> tuple[int, int]:
    """Check query (B, Dq) and keys (S, B, Dk); return (B, S)."""
    query = checks.float_array("query", query)
    keys = checks.float_array("keys", keys)
    if query.ndim != 2:
        raise ValueError(
            f"query must have shape (B, Dq), one decoder state per batch row; got "
            f"{query.ndim} dimension(s) with shape {query.shape}"
        )
    if keys.ndim != 3:
        raise ValueError(
            f"keys must have shape (S, B, Dk) (time-major, 3 dimensions); got {keys.ndim} "
            f"dimension(s) with shape {keys.shape}"
        )
    S, B = keys.shape[:2]
    if S == 0:
        raise ValueError(f"keys have S = 0 positions (shape {keys.shape}): an empty source")
    if query.shape[0] != B:
        raise ValueError(
            f"query {query.shape} and keys {keys.shape} must have one batch size B (query "
            f"axis 0, keys axis 1); got {query.shape[0]} and {B}"
        )
    return B, S


def _check_params(params: object, Dq: int, Dk: int) -> None:
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict with keys {PARAM_NAMES}; got {type(params)}")
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; expected keys {PARAM_NAMES}")
    for k in PARAM_NAMES:
        checks.float_array(f"params[{k!r}]", params[k])
    v = params["v"]
    if v.ndim != 1:
        raise ValueError(f"params['v'] must have shape (A,); got {v.shape}")
    A = v.shape[0]
    for k, shape in [("W_q", (A, Dq)), ("W_k", (A, Dk))]:
        if params[k].shape != shape:
            raise ValueError(
                f"params[{k!r}] must have shape {shape} for A={A}, Dq={Dq}, Dk={Dk} (A from "
                f"params['v'], Dq from the query, Dk from the keys); got {params[k].shape}"
            )


def _check_mask(mask: object, S: int, B: int) -> np.ndarray | None:
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        got = f"dtype {mask.dtype}" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise TypeError(
            f"mask must be a boolean numpy array of shape (S, B) = {(S, B)} (True: a real "
            f"position); got {got}"
        )
    if mask.shape != (S, B):
        raise ValueError(f"mask must have shape (S, B) = {(S, B)}; got {mask.shape}")
    empty = np.flatnonzero(~mask.any(axis=0)).tolist()
    if empty:
        raise ValueError(
            f"mask has no real position in batch column(s) {empty}: an empty source; every "
            "column needs at least one True"
        )
    return mask


def _check_grad(name: str, g: object, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    g = checks.float_array(name, g)
    if g.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {g.shape}")
    if g.dtype != dtype:
        raise TypeError(f"{name} must have the forward's dtype {dtype}; got {g.dtype}")
    return g
