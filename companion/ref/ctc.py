"""Connectionist temporal classification (CTC) in numpy: the collapse rule, the forward
recursion in log space, the loss as ``torch.nn.CTCLoss`` computes it, and best-path decoding.

Source: Graves, Fernandez, Gomez and Schmidhuber (2006), "Connectionist temporal
classification: labelling unsegmented sequence data with recurrent neural networks", ICML,
Section 3.1 (paths and the map B) and Section 4.1 (the forward-backward algorithm).

A network emits, at every frame t = 1 .. T, a distribution y_t over C classes: the labels and
one extra class, the blank (class 0 here, as in torch). A path pi is one class per frame; the
collapse map B merges repeated classes, then drops the blanks: B(a-ab-) = aab. A target l of
L labels has the probability of all the paths that collapse to it::

    p(l | x) = sum_{pi : B(pi) = l} prod_t y_t(pi_t)

The sum runs over the extended target l' = (blank, l_1, blank, l_2, ..., l_L, blank) of length
S = 2L + 1, whose positions s = 1 .. S a path walks through from left to right. The forward
variable alpha_t(s) is the probability of the paths' first t frames that have reached
position s at frame t (1-based, as in the paper)::

    alpha_1(1) = y_1(blank),  alpha_1(2) = y_1(l_1),  alpha_1(s) = 0 for s > 2
    alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1)
                  [+ alpha_{t-1}(s-2)  if l'_s != blank and l'_s != l'_{s-2}]) y_t(l'_s)
    p(l | x)   = alpha_T(S) + alpha_T(S-1)           (alpha_T(S) alone when L = 0)

A path may stay (s), advance by one (s-1), or skip the blank between two different labels
(s-2); it may not skip the blank between two equal labels, or B would merge them. So T frames
hold a target only if T >= L + (the number of repeats l_i = l_{i-1}): one frame per label and
one blank between each repeated pair (``min_frames``).

The code works with logarithms (natural logs): products become sums and each sum a
``np.logaddexp``, so that alpha, which shrinks geometrically with t, never underflows; an
unreachable position holds log 0 = -inf. The loss is -log p(l | x). This module imports numpy
only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from companion import checks

BLANK = 0
REDUCTIONS = ("mean", "sum", "none")
#: How far the logsumexp of each frame's log-probabilities may be from 0 (probabilities sum to 1).
NORMALISATION_TOL = 1e-3


def extend(target: Sequence[int] | np.ndarray, blank: int = BLANK) -> np.ndarray:
    """The extended target l' = (blank, l_1, blank, l_2, ..., l_L, blank), int64 (2L + 1,).

    ``extend([3, 3, 5])`` is ``[0, 3, 0, 3, 0, 5, 0]``. Raises ``ValueError`` for a target
    that is not one-dimensional or that holds the blank, ``TypeError`` for non-integers.
    """
    blank = checks.integer("blank", blank, minimum=0)
    target = _labels("target", target, blank)
    ext = np.full(2 * len(target) + 1, blank, dtype=np.int64)
    ext[1::2] = target
    return ext


def min_frames(target: Sequence[int] | np.ndarray) -> int:
    """The fewest frames that can hold ``target``: L + the number of repeats l_i = l_{i-1}.

    ``min_frames([3, 3, 5]) == 4`` (3 labels, one blank between the two 3s).
    """
    target = _integers("target", target)
    return int(len(target) + np.count_nonzero(target[1:] == target[:-1]))


def log_alpha(
    log_probs: np.ndarray, target: Sequence[int] | np.ndarray, blank: int = BLANK
) -> np.ndarray:
    """The forward variables log alpha_t(s) of one sequence (module docstring), (T, 2L + 1).

    Args:
        log_probs: (T, C) natural log-probabilities of each frame (log-softmax outputs).
        target: the L labels, integers in [0, C) other than ``blank``; L = 0 is allowed.
        blank: the blank's class index.

    Returns:
        ``la`` (T, 2L + 1) in the dtype of ``log_probs``: ``la[t - 1, s - 1]`` = log
        alpha_t(s), -inf where no path reaches position s by frame t.

    Raises:
        TypeError: ``log_probs`` not a floating numpy array; a label or ``blank`` not an
            integer.
        ValueError: ``log_probs`` not 2-D, with no frame, or a frame whose probabilities do not
            sum to one (logits passed for log-probabilities, a NaN); a label outside [0, C) or
            equal to ``blank``; a target longer than T frames can hold (``min_frames``).
    """
    log_probs = _log_probs(log_probs, 2, "(T, C)")
    T, C = log_probs.shape
    blank = checks.integer("blank", blank, 0, C - 1)
    target = _labels("target", target, blank, C)
    _fits(target, T)
    _normalised(log_probs, "log_probs")
    return _log_alpha(log_probs, extend(target, blank), blank)


def _log_alpha(log_probs: np.ndarray, ext: np.ndarray, blank: int) -> np.ndarray:
    T, S = len(log_probs), len(ext)
    lp = log_probs[:, ext]  # (T, S): log y_t(l'_s)
    # the skip s-2 -> s is allowed where l'_s is a label that differs from l'_{s-2}
    skip = np.zeros(S, dtype=bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    la = np.full((T, S), -np.inf, dtype=log_probs.dtype)
    la[0, : min(S, 2)] = lp[0, : min(S, 2)]  # start in the first blank or the first label
    for t in range(1, T):
        prev = la[t - 1]
        a = prev.copy()  # stay at s
        a[1:] = np.logaddexp(a[1:], prev[:-1])  # advance from s-1
        a[2:] = np.where(skip[2:], np.logaddexp(a[2:], prev[:-2]), a[2:])  # skip from s-2
        la[t] = a + lp[t]  # times y_t(l'_s)
    return la


def loss(
    log_probs: np.ndarray,
    targets: np.ndarray,
    input_lengths: Sequence[int] | np.ndarray,
    target_lengths: Sequence[int] | np.ndarray,
    blank: int = BLANK,
    reduction: str = "mean",
) -> np.ndarray | float:
    """The CTC loss -log p(l | x) of a padded batch, with ``torch.nn.CTCLoss``'s semantics.

    For sequence b, frames ``log_probs[:input_lengths[b], b]`` and labels
    ``targets[b, :target_lengths[b]]`` (the rest is padding and never read)::

        loss_b = -logaddexp(log alpha_T(S), log alpha_T(S-1))      T = input_lengths[b]

    Args:
        log_probs: (T, B, C) natural log-probabilities (log-softmax outputs), time-major.
        targets: (B, Lmax) integer labels, padded.
        input_lengths: (B,) frames of each sequence, from 1 to T.
        target_lengths: (B,) labels of each sequence, from 0 to Lmax.
        blank: the blank's class index.
        reduction: 'none' the (B,) losses; 'sum' their sum; 'mean' (torch's default) each
            divided by its target length (1 for an empty target, as torch clamps it), then
            averaged over the batch.

    Returns:
        A float for 'mean' and 'sum', an array (B,) in the dtype of ``log_probs`` for 'none'.

    Raises:
        TypeError: ``log_probs`` not a floating numpy array; ``targets`` or a length not
            integer.
        ValueError: wrong shapes; a length outside its range; a label outside [0, C) or equal
            to ``blank``; a used frame whose probabilities do not sum to one; a target longer
            than its frames can hold (``torch.nn.CTCLoss`` would return inf instead); an
            unknown ``reduction``.
    """
    log_probs = _log_probs(log_probs, 3, "(T, B, C)")
    T, B, C = log_probs.shape
    blank = checks.integer("blank", blank, 0, C - 1)
    checks.one_of("reduction", reduction, REDUCTIONS)
    targets = _integers("targets", targets)
    if targets.ndim != 2 or targets.shape[0] != B:
        raise ValueError(
            f"targets must have shape (B, Lmax) = ({B}, Lmax), padded; got {targets.shape}"
        )
    input_lengths = _lengths("input_lengths", input_lengths, B, 1, T, "T")
    target_lengths = _lengths("target_lengths", target_lengths, B, 0, targets.shape[1], "Lmax")
    nll = np.empty(B, dtype=log_probs.dtype)
    for b in range(B):
        T_b, L_b = input_lengths[b], target_lengths[b]
        target = _labels(f"targets[{b}]", targets[b, :L_b], blank, C)
        _fits(target, T_b, f"sequence {b}")
        lp = log_probs[:T_b, b]
        _normalised(lp, f"log_probs[:, {b}]")
        la = _log_alpha(lp, extend(target, blank), blank)
        nll[b] = -np.logaddexp(la[-1, -1], la[-1, -2]) if L_b else -la[-1, -1]
    if reduction == "none":
        return nll
    if reduction == "sum":
        return float(nll.sum())
    return float(np.mean(nll / np.maximum(target_lengths, 1)))


def collapse(path: Sequence[int] | np.ndarray, blank: int = BLANK) -> list[int]:
    """B(path): merge runs of the same class, then drop the blanks; a list of ints.

    With a = 1, b = 2 and the blank 0, ``collapse([1, 0, 1, 2, 0]) == [1, 1, 2]`` (paper:
    B(a-ab-) = aab) and ``collapse([1, 1, 2, 2]) == [1, 2]``. Raises ``ValueError`` for a path
    that is not one-dimensional, ``TypeError`` for non-integers.
    """
    blank = checks.integer("blank", blank, minimum=0)
    path = _integers("path", path)
    if path.ndim != 1:
        raise ValueError(f"path must be one-dimensional (T,); got shape {path.shape}")
    keep = np.ones(len(path), dtype=bool)
    keep[1:] = path[1:] != path[:-1]  # the first frame of each run
    return [int(k) for k in path[keep & (path != blank)]]


def greedy_decode(
    log_probs: np.ndarray, input_lengths: Sequence[int] | np.ndarray, blank: int = BLANK
) -> list[list[int]]:
    """Best-path decoding: the most probable class of each frame, then ``collapse``.

    h(x) = B(pi*), pi*_t = argmax_k y_t(k) (paper, Section 3.2): the labels of the single most
    probable path, an approximation of the most probable labelling.

    Args:
        log_probs: (T, B, C) scores per frame; log-probabilities or logits (the argmax is the
            same), no NaN.
        input_lengths: (B,) frames of each sequence, from 1 to T.
        blank: the blank's class index.

    Returns:
        B lists of labels (ints).

    Raises:
        TypeError: ``log_probs`` not a floating numpy array, lengths not integers.
        ValueError: ``log_probs`` not 3-D or holding NaN, lengths of the wrong shape or out of
            [1, T].
    """
    log_probs = _log_probs(log_probs, 3, "(T, B, C)")
    if np.isnan(log_probs).any():
        raise ValueError("log_probs holds NaN; the most probable class is undefined")
    T, B, C = log_probs.shape
    blank = checks.integer("blank", blank, 0, C - 1)
    input_lengths = _lengths("input_lengths", input_lengths, B, 1, T, "T")
    best = log_probs.argmax(axis=-1)  # (T, B)
    return [collapse(best[: input_lengths[b], b], blank) for b in range(B)]


# --- checks ----------------------------------------------------------------------------------


def _log_probs(a: object, ndim: int, shape: str) -> np.ndarray:
    a = checks.float_array("log_probs", a)
    if a.ndim != ndim or 0 in a.shape:
        raise ValueError(f"log_probs must have shape {shape} with no empty axis; got {a.shape}")
    return a


def _normalised(lp: np.ndarray, name: str) -> None:
    """Each row of ``lp`` (T, C) must be a log-distribution: logsumexp over C equal to 0."""
    with np.errstate(invalid="ignore", over="ignore"):
        m = lp.max(axis=-1, keepdims=True)
        lse = (m + np.log(np.exp(lp - m).sum(axis=-1, keepdims=True)))[:, 0]
    bad = ~(np.abs(lse) <= NORMALISATION_TOL)  # NaN counts as bad
    if bad.any():
        t = int(np.argmax(bad))
        raise ValueError(
            f"{name} must hold log-probabilities, each frame's summing to 1 (logsumexp over "
            f"the classes 0 within {NORMALISATION_TOL:g}); frame {t} has logsumexp "
            f"{lse[t]:.4g}. Pass log_softmax outputs, not logits"
        )


def _integers(name: str, a: object) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise TypeError(f"{name} must hold integers; got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _labels(name: str, target: object, blank: int, C: int | None = None) -> np.ndarray:
    target = _integers(name, target)
    if target.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (L,); got shape {target.shape}")
    if C is not None and ((target < 0) | (target >= C)).any():
        bad = target[(target < 0) | (target >= C)][0]
        raise ValueError(f"{name} holds the label {bad}, outside the classes [0, {C})")
    if (target == blank).any():
        where = int(np.argmax(target == blank))
        raise ValueError(
            f"{name} holds the blank ({blank}) at position {where}; a target is labels only"
        )
    return target


def _fits(target: np.ndarray, T: int, what: str = "the target") -> None:
    need = min_frames(target)
    if T < need:
        L = len(target)
        raise ValueError(
            f"{what}: T = {T} frames cannot hold a target of L = {L} labels with {need - L} "
            f"repeat(s): CTC needs T >= L + repeats = {need} (one frame per label and a blank "
            "between each repeated pair)"
        )


def _lengths(name: str, a: object, B: int, low: int, high: int, high_name: str) -> np.ndarray:
    arr = _integers(name, a)
    if arr.shape != (B,):
        raise ValueError(f"{name} must have shape (B,) = ({B},); got {arr.shape}")
    if ((arr < low) | (arr > high)).any():
        bad = int(np.argmax((arr < low) | (arr > high)))
        raise ValueError(
            f"{name} must be from {low} to {high_name} = {high}; got {arr[bad]} at index {bad}"
        )
    return arr
