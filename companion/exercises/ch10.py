"""Checks for the code exercises of chapter 10 (sequence to sequence).

Each ``check_*`` takes the learner's function, runs it on several cases whose answers come
from the companion (``companion.tasks.masked_cross_entropy``, ``companion.ref.attention``,
``companion.ref.ctc``), prints one line per case and raises ``ExerciseCheckFailed`` if any
case fails. Each declares what its exercise asks to be written by hand (``by_hand``). Arrays
are numpy, time-major: logits (T, B, V), token ids (T, B); the attention exercise works on one
decoder step without a mask, query (B, Dq), keys (S, B, Dk), as ``companion.ref.attention``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from companion import tasks
from companion.exercises.core import (
    AUTOGRAD,
    SOFTMAX,
    Case,
    by_hand,
    random_logits,
    run_cases,
    table_cases,
)
from companion.ref import attention, ctc

MASKED_LOSS = ("companion.tasks.masked_cross_entropy", *SOFTMAX)
BEAM = ("companion.decoding.beam_search", "companion.seq2seq.Seq2Seq.beam_search")
ATTENTION_BACKWARD = (
    "companion.ref.attention.additive_backward",
    "companion.ref.attention.dot_backward",
    *AUTOGRAD,
)


@by_hand("the masked cross-entropy", MASKED_LOSS)
def check_masked_loss(fn: Callable) -> None:
    """``fn(logits, y_out, pad) -> float``: logits (T, B, V), y_out (T, B) integer ids padded
    with ``pad``; the mean over the positions where y_out != pad of -log softmax(logits)[y],
    in nats (eq. ``eq-ch10-loss``); the reference is ``tasks.masked_cross_entropy``.
    """
    hint = (
        "log-softmax stably: z = logits - logits.max(-1, keepdims=True), "
        "log_p = z - log(sum(exp(z), -1)); pick log_p[t, b, y_out[t, b]] with "
        "np.take_along_axis, keep the positions where y_out != pad, and divide the sum by "
        "their COUNT (not by T * B)"
    )

    def build(T, B, V, pad, lengths, scale, seed):
        logits, y = random_logits((T, B, V), scale, seed)
        y = np.where(y == pad, (pad + 1) % V, y)  # real tokens are never the pad id
        y[np.arange(T)[:, None] >= np.asarray(lengths)] = pad
        expected = tasks.masked_cross_entropy(
            torch.from_numpy(logits), torch.from_numpy(y), torch.from_numpy(y != pad)
        )
        return (logits, y, pad), float(expected)

    rows = [
        ("no padding (T=3, B=2, V=5)", 3, 2, 5, 0, [3, 3], 1.0, 0),
        ("lengths 4, 1, 2 (T=4, B=3, V=6)", 4, 3, 6, 0, [4, 1, 2], 1.0, 1),
        ("one sequence of length 1 among long ones", 6, 3, 4, 0, [6, 1, 6], 2.0, 2),
        ("large logits: needs a stable log-softmax", 3, 2, 7, 0, [3, 2], 400.0, 3),
        ("the pad id is 3, not 0", 5, 2, 6, 3, [2, 5], 1.0, 4),
    ]
    run_cases("check_masked_loss", fn, table_cases(rows, build, hint, rtol=1e-9, atol=1e-12))


def _top_candidates(scores: np.ndarray, log_probs: np.ndarray, n: int):
    """The n best extensions: flat index b V + v sorted by -(scores[b] + log_probs[b, v]),
    ties to the smaller index."""
    total = (scores[:, None] + log_probs).ravel()
    best = np.argsort(-total, kind="stable")[:n]
    V = log_probs.shape[1]
    return best // V, best % V, total[best]


@by_hand("one step of beam search", BEAM)
def check_top_candidates(fn: Callable) -> None:
    """``fn(scores, log_probs, n) -> (beams, tokens, totals)``: one step of beam search.
    scores (k,) the log-probabilities of the k live hypotheses (-inf for an empty slot),
    log_probs (k, V) the next-token log-probabilities of each; return the n best one-token
    extensions, best first: beams (n,) and tokens (n,) integer arrays, totals (n,) =
    scores[beams] + log_probs[beams, tokens]. Ties go to the smaller b V + v.
    """
    hint = (
        "add scores[:, None] to log_probs (k, V), flatten, sort by the negated total with a "
        "stable sort (np.argsort(-total, kind='stable')), take the first n; the beam of flat "
        "index i is i // V and its token i % V"
    )

    def build(k, V, n, dead, seed):
        rng = np.random.default_rng(seed)
        scores = -rng.gamma(2.0, 1.0, size=k)
        scores[list(dead)] = -np.inf
        log_probs = rng.standard_normal((k, V))
        log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
        return (scores, log_probs, n), _top_candidates(scores, log_probs, n)

    rows = [
        ("k=3, V=5, the best 6", 3, 5, 6, (), 0),
        ("the first step: only beam 0 is alive (k=4, V=6, n=4)", 4, 6, 4, (1, 2, 3), 1),
        ("greedy: k=1, n=1 (V=9)", 1, 9, 1, (), 2),
        ("every candidate (k=2, V=3, n=6)", 2, 3, 6, (), 3),
        ("one empty slot (k=3, V=4, n=5)", 3, 4, 5, (1,), 4),
    ]
    run_cases("check_top_candidates", fn, table_cases(rows, build, hint, rtol=1e-12, atol=1e-12))


@by_hand(
    "the backward pass of additive attention",
    ATTENTION_BACKWARD,
    allowed=["companion.ref.attention.additive_forward"],
)
def check_additive_backward(fn: Callable) -> None:
    """``fn(dcontext, query, keys, W_q, W_k, v) -> (dquery, dkeys, dW_q, dW_k, dv)``: the
    backward pass of additive attention for one decoder step, without a mask.

    The forward, for each batch row, is u_j = W_q q + W_k k_j, s_j = tanh(u_j),
    e_j = v^T s_j, a = softmax_j(e), c = sum_j a_j k_j (the keys are also the values), and
    ``dcontext`` (B, Dk) is dL/dc. Shapes: query (B, Dq), keys (S, B, Dk), W_q (A, Dq),
    W_k (A, Dk), v (A,); dquery (B, Dq), dkeys (S, B, Dk), dW_q (A, Dq), dW_k (A, Dk),
    dv (A,). The reference is ``companion.ref.attention.additive_backward``; the learner may
    call ``additive_forward`` to recompute the forward.
    """
    hint = (
        "recompute the forward: s = np.tanh((query @ W_q.T)[:, None] + (keys @ W_k.T)"
        ".transpose(1, 0, 2)) (B, S, A), e = s @ v, a = the softmax of e over axis 1; then "
        "da = np.einsum('bd,sbd->bs', dcontext, keys) and, through the softmax's Jacobian, "
        "de = a * (da - (a * da).sum(axis=1, keepdims=True)) (keep the subtracted sum); "
        "dv = np.einsum('bs,bsa->a', de, s); du = de[..., None] * v * (1 - s**2) (through "
        "tanh); dW_q = du.sum(1).T @ query, dquery = du.sum(1) @ W_q, "
        "dW_k = np.einsum('bsa,sbd->ad', du, keys); dkeys has two paths, the value path "
        "a.T[..., None] * dcontext plus the score path du.transpose(1, 0, 2) @ W_k"
    )

    def build(B, S, Dq, Dk, A, seed, scale, zero_row):
        rng = np.random.default_rng(seed)
        W_q = scale * rng.standard_normal((A, Dq)) / np.sqrt(Dq)
        W_k = scale * rng.standard_normal((A, Dk)) / np.sqrt(Dk)
        v = scale * rng.standard_normal(A) / np.sqrt(A)
        query = rng.standard_normal((B, Dq))
        keys = rng.standard_normal((S, B, Dk))
        dcontext = rng.standard_normal((B, Dk))
        if zero_row:
            dcontext[0] = 0.0  # no gradient reaches row 0: all of its gradients are 0
        params = {"W_q": W_q, "W_k": W_k, "v": v}
        _, _, cache = attention.additive_forward(query, keys, params)
        dquery, dkeys, grads = attention.additive_backward(dcontext, cache)
        expected = (dquery, dkeys, grads["W_q"], grads["W_k"], grads["v"])
        return (dcontext, query, keys, W_q, W_k, v), expected

    # (name, B, S, Dq, Dk, A, seed, scale of the weights, dcontext zero in row 0)
    rows = [
        ("one source position: a = 1, only the value path (B=2, S=1)", 2, 1, 3, 4, 5, 0, 1.0, 0),
        ("B=2, S=4, Dq=3, Dk=5, A=6", 2, 4, 3, 5, 6, 1, 1.0, 0),
        ("one batch row, A=1 (B=1, S=7, Dq=4, Dk=3)", 1, 7, 4, 3, 1, 2, 1.0, 0),
        ("large weights: peaked a, saturated tanh (B=3, S=6)", 3, 6, 2, 2, 4, 3, 4.0, 0),
        ("no gradient reaching row 0 (B=3, S=5)", 3, 5, 3, 4, 5, 4, 1.0, 1),
    ]
    cases = table_cases(rows, build, hint, rtol=1e-9, atol=1e-12)
    run_cases("check_additive_backward", fn, cases)


#: What computes the CTC forward variables or the loss for the learner.
CTC_FORWARD = (
    "companion.ref.ctc.log_alpha",
    "companion.ref.ctc._log_alpha",
    "companion.ref.ctc.loss",
    "companion.ctc.ctc_loss",
    "torch.nn.functional.ctc_loss",
    "torch.nn.CTCLoss",
    "torch.ctc_loss",
)
#: What collapses a path for the learner.
COLLAPSE = (
    "companion.ref.ctc.collapse",
    "companion.ref.ctc.greedy_decode",
    "companion.ctc.greedy_decode",
)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@by_hand("the CTC forward recursion", CTC_FORWARD)
def check_ctc_log_alpha(fn: Callable) -> None:
    """``fn(log_probs, target) -> la``: the CTC forward variables of one sequence, in log space.

    log_probs (T, C) natural log-probabilities, target (L,) int64 labels in 1 .. C-1 (the
    blank is 0); la (T, 2L + 1) with la[t-1, s-1] = log alpha_t(s) over the extended target
    l' = (0, l_1, 0, ..., l_L, 0), -inf where unreachable::

        alpha_1(1) = y_1(0),  alpha_1(2) = y_1(l_1),  alpha_1(s) = 0 for s > 2
        alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1)
                      [+ alpha_{t-1}(s-2) if l'_s != 0 and l'_s != l'_{s-2}]) y_t(l'_s)

    The reference is ``companion.ref.ctc.log_alpha``.
    """
    hint = (
        "build l' with a blank before, between and after the labels (length 2L+1); start "
        "with la = -inf everywhere, la[0, 0] = log_probs[0, 0] and la[0, 1] = "
        "log_probs[0, l_1]; then for t >= 1 add (np.logaddexp, never exp then log) the "
        "previous frame's s, s-1 and, only where l'_s is a label different from l'_{s-2}, "
        "s-2, and add log_probs[t, l'_s]; an empty target has the one blank state"
    )
    rows = [  # (name, T, C, target, seed)
        ("one label, two frames", 2, 3, [1], 0),
        ("three different labels", 6, 5, [1, 2, 3], 1),
        ("a repeated label: no skip over the blank between the two", 7, 4, [2, 2, 3], 2),
        ("the empty target: the blank alone", 4, 3, [], 3),
        ("just enough frames: T = L + repeats", 5, 3, [1, 1, 1], 4),
        ("400 frames: alpha underflows unless kept in log space", 400, 8, [3, 1, 4, 1, 5] * 4, 5),
    ]
    cases = []
    for name, T, C, target, seed in rows:
        log_probs = _log_softmax(np.random.default_rng(seed).standard_normal((T, C)))
        target = np.array(target, dtype=np.int64)
        expected = ctc.log_alpha(log_probs, target)
        cases.append(Case(name, (log_probs, target), expected, hint, rtol=1e-9, atol=1e-9))
    run_cases("check_ctc_log_alpha", fn, cases)


@by_hand("the collapse rule", COLLAPSE)
def check_collapse(fn: Callable) -> None:
    """``fn(path) -> labels``: B(path), path (T,) int64 classes (0 the blank), labels a list
    of ints: merge each run of the same class into one, then drop the blanks.

    B(a-ab-) = aab: ``[1, 0, 1, 2, 0] -> [1, 1, 2]``. The reference is
    ``companion.ref.ctc.collapse``.
    """
    hint = (
        "merge first, then drop: keep path[t] where t == 0 or path[t] != path[t-1], then "
        "remove the blanks (0); a blank between two equal labels keeps both (1 0 1 -> 1 1), "
        "a run without one merges (1 1 -> 1); return a list of ints"
    )
    rng = np.random.default_rng(0)
    rows = [
        ("the paper's example B(a-ab-) = aab", [1, 0, 1, 2, 0]),
        ("B(-aa--abb) = aab", [0, 1, 1, 0, 0, 1, 2, 2]),
        ("a run merges: 3 3 3 -> 3", [3, 3, 3]),
        ("blanks only", [0, 0, 0, 0]),
        ("an empty path", []),
        ("a blank keeps a repeat: 5 0 5 0 5", [5, 0, 5, 0, 5]),
        ("200 random frames", rng.integers(0, 4, size=200).tolist()),
    ]
    cases = []
    for name, path in rows:
        path = np.array(path, dtype=np.int64)
        cases.append(Case(name, (path,), ctc.collapse(path), hint))
    run_cases("check_collapse", _as_labels(fn), cases)


def _as_labels(fn: Callable) -> Callable:
    """``fn`` whose result is read as a list of ints (a list, a tuple or a 1-D integer array)."""

    def labels(path):
        out = fn(path)
        arr = np.asarray(out)
        if out is None or arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(
                f"return the labels as a list of ints; got {type(out).__name__}"
                + ("" if out is None else f" with dtype {arr.dtype} and shape {arr.shape}")
            )
        return [int(k) for k in arr]

    return labels
