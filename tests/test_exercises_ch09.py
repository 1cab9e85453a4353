"""The chapter 9 exercise checks accept right answers and reject wrong ones."""

from collections import Counter

import numpy as np
import pytest
import torch

from companion import memory_probes, ngram
from companion.exercises import ExerciseCheckFailed, ch09


def not_implemented(*args):
    raise NotImplementedError


# --- check_bits_per_char ------------------------------------------------------------------


def test_bits_per_char_check_accepts_a_right_answer(capsys):
    ch09.check_bits_per_char(lambda log_p: -np.mean(log_p) / np.log(2))
    assert "All 4 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda log_p: -np.mean(log_p), "3 of 4 cases failed"),  # nats, not bits
        (lambda log_p: np.exp(-np.mean(log_p)), "4 of 4 cases failed"),  # the perplexity
        (lambda log_p: -np.sum(log_p) / np.log(2), "FAIL"),  # a sum, not a mean
        (ngram.bits_per_char, "bits per character"),  # the reference itself
        (not_implemented, "not implemented"),
    ],
)
def test_bits_per_char_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch09.check_bits_per_char(wrong)


# --- check_kn_bigram ----------------------------------------------------------------------


def kn_bigram(train, V, h, w, continuation=True, d2=None):
    pairs = Counter(zip(train[:-1].tolist(), train[1:].tolist(), strict=True))
    n1, n2 = (sum(c == k for c in pairs.values()) for k in (1, 2))
    D2 = (n1 / (n1 + 2 * n2) if n1 else 0.5) if d2 is None else d2
    if continuation:
        lower = Counter(b for (_, b) in pairs)  # distinct left neighbours of b
    else:
        lower = Counter(train[1:].tolist())  # plain frequencies: not Kneser-Ney
    m1, m2 = (sum(c == k for c in lower.values()) for k in (1, 2))
    D1 = m1 / (m1 + 2 * m2) if m1 else 0.5
    total1 = sum(lower.values())
    p1 = (max(lower.get(w, 0) - D1, 0) + D1 * len(lower) / V) / total1
    after = {b: c for (a, b), c in pairs.items() if a == h}
    if not after:
        return p1
    total = sum(after.values())
    return (max(after.get(w, 0) - D2, 0) + D2 * len(after) * p1) / total


def test_kn_bigram_check_accepts_a_right_answer(capsys):
    ch09.check_kn_bigram(kn_bigram)
    assert "All 5 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda *a: kn_bigram(*a, continuation=False), "FAIL"),  # absolute discounting
        (lambda *a: kn_bigram(*a, d2=0.75), "FAIL"),  # a fixed discount
        (lambda t, V, h, w: 1.0 / V, "5 of 5 cases failed"),
        (
            lambda t, V, h, w: float(
                np.exp(ngram.KneserNey.fit(t, V, 2).log_probs(np.array([h, w])))[1, w]
            ),
            "Kneser-Ney bigram",
        ),  # the reference itself
        (not_implemented, "not implemented"),
    ],
)
def test_kn_bigram_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch09.check_kn_bigram(wrong)


# --- check_bracket_distance ---------------------------------------------------------------


def bracket_distance(text, after_close=True):
    stack, k = [], np.zeros(len(text), dtype=np.int64)
    for t, c in enumerate(text):
        if c in "([{":
            stack.append(t)
        elif c in ")]}" and after_close:
            stack.pop()
        k[t] = t + 1 - stack[-1] if stack else 0
        if c in ")]}" and not after_close:
            stack.pop()
    return k


def test_bracket_distance_check_accepts_a_right_answer(capsys):
    ch09.check_bracket_distance(bracket_distance)
    assert "All 5 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda text: bracket_distance(text, after_close=False), "4 of 5 cases failed"),
        (lambda text: np.maximum(bracket_distance(text) - 1, 0), "4 of 5 cases failed"),
        (lambda text: list(bracket_distance(text)), "expected a numpy array"),
        (lambda text: memory_probes.python_labels(text).bracket_distance(), "bracket distance"),
        (not_implemented, "not implemented"),
    ],
)
def test_bracket_distance_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch09.check_bracket_distance(wrong)


# --- check_temperature_probs --------------------------------------------------------------


def temperature_probs(logits, tau):
    z = logits / tau
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_temperature_check_accepts_a_right_answer(capsys):
    ch09.check_temperature_probs(temperature_probs)
    assert "All 4 cases passed." in capsys.readouterr().out


def naive(logits, tau):  # no max trick: overflows at tau = 0.01
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(logits / tau)
        return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda logits, tau: temperature_probs(logits * tau, 1.0), "3 of 4 cases failed"),
        (lambda logits, tau: temperature_probs(logits, 1.0), "3 of 4 cases failed"),
        (naive, "1 of 4 cases failed"),
        (
            lambda z, tau: torch.nn.functional.softmax(torch.as_tensor(z / tau), -1).numpy(),
            "softmax",
        ),  # fmt: skip
        (not_implemented, "not implemented"),
    ],
)
def test_temperature_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch09.check_temperature_probs(wrong)
