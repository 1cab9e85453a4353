"""companion.ngram: interpolated Kneser–Ney sums to one, matches hand values and a dict-based
reference, and scores text in bits per character and perplexity."""

import math
from collections import Counter

import numpy as np
import pytest

from companion import ngram


def ids_of(text, alphabet="abc"):
    return np.array([alphabet.index(c) for c in text], dtype=np.int64)


def reference_kn(train, V, order):
    """Interpolated Kneser–Ney written from the equations with dicts and recursion."""
    train = list(train)
    counts = {}
    for k in range(1, order + 1):
        grams = [tuple(train[t : t + k]) for t in range(len(train) - k + 1)]
        if k == order:
            counts[k] = Counter(grams)
        else:
            longer = {tuple(train[t : t + k + 1]) for t in range(len(train) - k)}
            counts[k] = Counter(g[1:] for g in longer)
    discounts = {}
    for k, c in counts.items():
        n1 = sum(v == 1 for v in c.values())
        n2 = sum(v == 2 for v in c.values())
        discounts[k] = n1 / (n1 + 2 * n2) if n1 else 0.5

    def p(w, h, k):
        if k == 0:
            return 1.0 / V
        if len(h) < k - 1:  # the context is cut short: the next lower order decides
            return p(w, h, k - 1)
        h = h[len(h) - (k - 1) :] if k > 1 else ()
        lower = p(w, h[1:], k - 1)
        total = sum(v for g, v in counts[k].items() if g[:-1] == h)
        if total == 0:
            return lower
        types = sum(1 for g in counts[k] if g[:-1] == h)
        D = discounts[k]
        return (max(counts[k].get((*h, w), 0) - D, 0) + D * types * lower) / total

    return p


def test_hand_computed_bigram_on_aabab():
    # c(aa)=1, c(ab)=2, c(ba)=1: D2 = 2/(2+2*1) = 1/2. Continuation counts: a after {a, b},
    # b after {a}: N(.a)=2, N(.b)=1, D1 = 1/(1+2) = 1/3;
    # p1 = (17, 8, 2)/27; p2(.|a) = (61, 97, 4)/162; p2(.|b) = (22/27, ...).
    model = ngram.KneserNey.fit(ids_of("aabab"), 3, 2)
    assert model.discounts == pytest.approx((1 / 3, 1 / 2))
    P = np.exp(model.log_probs(ids_of("aabc")))  # rows: no context, after a, a, b
    np.testing.assert_allclose(P[0], np.array([17, 8, 2]) / 27, rtol=1e-12)
    np.testing.assert_allclose(P[1], np.array([61, 97, 4]) / 162, rtol=1e-12)
    np.testing.assert_allclose(P[3][0], 22 / 27, rtol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_agrees_with_the_dict_reference(order):
    rng = np.random.default_rng(order)
    V = 5
    train = rng.choice(4, size=300, p=[0.5, 0.25, 0.15, 0.1])  # symbol 4 never seen
    test = rng.integers(0, V, size=40)
    model = ngram.KneserNey.fit(train, V, order)
    p = reference_kn(train, V, order)
    got = np.exp(model.log_probs(test))
    for t in range(test.size):
        h = tuple(test[max(0, t - order + 1) : t])
        want = [p(w, h, order) for w in range(V)]
        np.testing.assert_allclose(got[t], want, rtol=1e-10, err_msg=f"position {t}")


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_every_context_seen_and_unseen_sums_to_one(order):
    rng = np.random.default_rng(0)
    V = 7
    train = rng.integers(0, V - 1, size=2000)  # the last symbol never seen in training
    model = ngram.KneserNey.fit(train, V, order)
    seen = train[:200]
    unseen = rng.integers(0, V, size=200)  # contexts with the unseen symbol, and new ones
    for text in (seen, unseen, np.full(10, V - 1)):
        P = np.exp(model.log_probs(text))
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-9)
        assert (P > 0).all()


def test_log_prob_is_the_diagonal_of_log_probs():
    rng = np.random.default_rng(1)
    train, test = rng.integers(0, 6, size=500), rng.integers(0, 6, size=50)
    model = ngram.KneserNey.fit(train, 6, 3)
    np.testing.assert_allclose(
        model.log_prob(test), model.log_probs(test)[np.arange(50), test], rtol=1e-12
    )


def test_uniform_model_has_perplexity_V_and_log2_V_bits():
    V = 13
    log_p = np.full(1000, -math.log(V))
    assert ngram.perplexity(log_p) == pytest.approx(V, rel=1e-12)
    assert ngram.bits_per_char(log_p) == pytest.approx(math.log2(V), rel=1e-12)
    # a unigram fitted to a text in which every symbol is equally frequent is uniform
    model = ngram.KneserNey.fit(np.tile(np.arange(V), 50), V, 1)
    assert ngram.perplexity(model.log_prob(np.arange(V))) == pytest.approx(V, rel=1e-12)


def test_bpc_and_perplexity_on_heldout_text_improve_with_order():
    # a text with structure: a higher order predicts held-out text better than a unigram
    rng = np.random.default_rng(2)
    words = ["abc", "abd", "bca", "dd"]
    text = np.concatenate([ids_of(words[i], "abcd") for i in rng.integers(0, 4, 3000)])
    train, heldout = text[:8000], text[8000:]
    bpc = [ngram.bits_per_char(ngram.KneserNey.fit(train, 4, n).log_prob(heldout))
           for n in (1, 2, 3)]  # fmt: skip
    assert bpc[0] > bpc[1] > bpc[2]
    assert bpc[0] <= 2.0 + 1e-9  # at most log2 V
    assert ngram.perplexity(ngram.KneserNey.fit(train, 4, 3).log_prob(heldout)) == (
        pytest.approx(2 ** bpc[2])
    )


def test_codes_are_base_V_numbers():
    np.testing.assert_array_equal(ngram.codes(np.array([1, 2, 0, 3]), 2, 4), [6, 8, 3])
    np.testing.assert_array_equal(ngram.codes(np.array([1, 2]), 3, 4), np.zeros(0))


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((np.array([0.0, 1.0]), 3, 2), TypeError, "integer ids"),
        ((np.array([0, 3]), 3, 2), ValueError, r"\[0, V\)"),
        ((np.array([[0, 1]]), 3, 2), ValueError, "one-dimensional"),
        ((np.array([0]), 3, 2), ValueError, "at least order"),
        ((np.array([0, 1, 2]), 3, 0), ValueError, "order"),
        ((np.array([0, 1, 2]), 100, 12), ValueError, "overflows"),
    ],
)
def test_bad_input_is_a_clear_error(args, error, match):
    with pytest.raises(error, match=match):
        ngram.KneserNey.fit(*args)


def test_scores_reject_empty_input():
    with pytest.raises(ValueError, match="non-empty"):
        ngram.bits_per_char(np.zeros(0))
