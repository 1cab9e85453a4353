"""Checks for the code exercises of chapter 9 (language models with gated cells).

Each ``check_*`` takes the learner's function, runs it on several cases whose answers come
from the companion (``companion.ngram``, ``companion.memory_probes``, the softmax of
``companion.ref.readout``), prints one line per case and raises ``ExerciseCheckFailed`` if
any case fails. Each declares what its exercise asks to be written by hand (``by_hand``).
Log-probabilities are natural logarithms (nats); ids are numpy integer arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion import memory_probes, ngram
from companion.exercises.core import SOFTMAX, Case, by_hand, random_logits, run_cases
from companion.ref import readout

SCORES = ("companion.ngram.bits_per_char", "companion.ngram.perplexity")
KNESER_NEY = ("companion.ngram",)
LABELS = ("companion.memory_probes.python_labels", "companion.memory_probes.Labels")


@by_hand("the score in bits per character", SCORES)
def check_bits_per_char(fn: Callable) -> None:
    """``fn(log_p) -> bpc``: log_p (N,) natural log-probabilities of the characters that came.

    bpc = -(1/N) sum_t log2 p_t = -mean(log_p) / ln 2; the reference is
    ``companion.ngram.bits_per_char``.
    """
    hint = (
        "log_p holds NATURAL logarithms: bpc = -mean(log_p) / ln 2 (np.log(2)), the mean "
        "number of bits per character; a uniform guess over V symbols scores log2(V)"
    )
    rng = np.random.default_rng(0)
    cases = [
        ("uniform over 97 symbols: log2 97", np.full(50, -np.log(97.0))),
        ("a sure model: 0 bits", np.zeros(10)),
        ("mixed probabilities", np.log(rng.uniform(0.05, 1.0, size=200))),
        ("one character", np.array([np.log(0.25)])),
    ]
    run_cases(
        "check_bits_per_char",
        fn,
        [Case(name, (lp,), ngram.bits_per_char(lp), hint, rtol=1e-9) for name, lp in cases],
    )


def _kn_text(seed: int, n: int, V: int) -> np.ndarray:
    """A stream with structure (each symbol favours a successor) and one unseen symbol."""
    rng = np.random.default_rng(seed)
    ids = [0]
    for _ in range(n - 1):
        ids.append((ids[-1] + 1) % (V - 1) if rng.random() < 0.6 else rng.integers(0, V - 1))
    return np.array(ids, dtype=np.int64)


@by_hand("the interpolated Kneser-Ney bigram probability", KNESER_NEY)
def check_kn_bigram(fn: Callable) -> None:
    """``fn(train_ids, V, h, w) -> p``: p_2(w | h) of an interpolated Kneser-Ney bigram model.

    p_2(w | h) = [max(c(h w) - D_2, 0) + D_2 N(h .) p_1(w)] / c(h .), with bigram counts c,
    D_2 = n1 / (n1 + 2 n2) over the bigram counts; p_1 the continuation unigram
    p_1(w) = [max(N(. w) - D_1, 0) + D_1 N_1 / V] / N(. .), N(. w) the number of distinct
    characters seen before w, N_1 the number of w with N(. w) > 0, D_1 from the N(. w) as
    D_2 from the counts; a discount whose n1 is 0 is 1/2 instead (the formula's 0 would give
    the lower order no mass). An unseen context h gives p_1(w). The reference is
    ``companion.ngram.KneserNey.fit(train_ids, V, 2)``.
    """
    hint = (
        "count the bigrams c(h w) of train_ids; D2 = n1/(n1 + 2 n2) from how many bigram types "
        "occur once and twice (1/2 if none occurs once); p1 uses CONTINUATION counts "
        "N(. w) = number of distinct characters seen before w (not how often w occurs), "
        "with its own discount D1 and the uniform 1/V for the freed mass; then "
        "p2 = (max(c(hw) - D2, 0) + D2 * N(h .) * p1(w)) / c(h .), where N(h .) counts the "
        "distinct w after h; an unseen h gives p1(w)"
    )

    def build(seed, n, V, h, w):
        train = _kn_text(seed, n, V)
        model = ngram.KneserNey.fit(train, V, 2)
        p = float(np.exp(model.log_probs(np.array([h, w]))[1, w]))
        return (train, V, h, w), p

    rows = [
        ("a frequent pair: h=2, w=3", 0, 400, 6, 2, 3),
        ("a rare pair: h=3, w=1", 1, 400, 6, 3, 1),
        ("w never seen in training: h=0, w=5", 2, 300, 6, 0, 5),
        ("h never seen in training: h=5, w=1", 3, 300, 6, 5, 1),
        ("a short text", 4, 30, 4, 1, 2),
    ]
    cases = [Case(name, *build(*values), hint, rtol=1e-9) for name, *values in rows]
    run_cases("check_kn_bigram", fn, cases)


@by_hand("the bracket distance", LABELS)
def check_bracket_distance(fn: Callable) -> None:
    """``fn(text) -> k`` (N,) int: after each character, how far back the innermost open
    bracket was opened.

    k[t] = t + 1 - j, j the position of the innermost bracket ( [ { still open after reading
    text[t]; 0 where none is open. The texts hold no strings or comments, and every closing
    bracket matches; the reference is ``python_labels(text).bracket_distance()`` of
    ``companion.memory_probes``.
    """
    hint = (
        "keep a stack of the positions of the open brackets: push j at an opener, pop at a "
        "closer (the closer itself is read with the bracket already closed); after reading "
        "text[t], k[t] = t + 1 - stack[-1], or 0 if the stack is empty"
    )
    texts = [
        ("one pair", "f(x)"),
        ("nested", "a[b(c), {d: e}]"),
        ("an empty pair and a newline", "g()\nh([1,\n  2])"),
        ("no bracket at all", "x = y + 1"),
        ("a long call", "print(" + "x + " * 30 + "1)"),
    ]
    cases = [
        Case(name, (text,), memory_probes.python_labels(text).bracket_distance(), hint, 0, 0)
        for name, text in texts
    ]
    run_cases("check_bracket_distance", fn, cases)


@by_hand("the softmax with a temperature", SOFTMAX)
def check_temperature_probs(fn: Callable) -> None:
    """``fn(logits, tau) -> p``: softmax(logits / tau) over the last axis, logits (..., V).

    The reference is ``companion.ref.readout.softmax(logits / tau)``; large logits and small
    temperatures must not overflow.
    """
    hint = (
        "divide the logits by tau first, then subtract the max over the last axis before "
        "exp (keepdims=True), and normalise by the sum over the last axis"
    )
    rows = [
        ("tau = 1 is the softmax", (2, 3, 5), 1.0, 1.0, 0),
        ("tau = 0.5 sharpens", (2, 3, 5), 1.0, 0.5, 1),
        ("tau = 2 flattens", (1, 4, 7), 2.0, 2.0, 2),
        ("tau = 0.01 (nearly greedy, needs the max trick)", (3, 2, 6), 3.0, 0.01, 3),
    ]
    cases = []
    for name, shape, scale, tau, seed in rows:
        logits, _ = random_logits(shape, scale, seed)
        cases.append(Case(name, (logits, tau), readout.softmax(logits / tau), hint, rtol=1e-9))
    run_cases("check_temperature_probs", fn, cases)
