"""The standard-library corpus: file split, vocabulary, batches and the unigram baseline."""

import math
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion import corpus
from companion.corpus import Vocab

SMALL_TRAIN = ("bisect.py", "copy.py", "heapq.py")
SMALL_HELDOUT = ("sched.py",)


@pytest.fixture(scope="module")
def small():
    return corpus.load_stdlib_corpus(SMALL_TRAIN, SMALL_HELDOUT)


def test_file_lists_are_disjoint_and_present():
    assert not set(corpus.TRAIN_FILES) & set(corpus.HELDOUT_FILES)
    root = Path(sysconfig.get_paths()["stdlib"])
    for name in corpus.TRAIN_FILES + corpus.HELDOUT_FILES:
        assert (root / name).is_file(), name
        assert not name.startswith("test")


def test_full_corpus_sizes_and_vocabulary():
    c = corpus.load_stdlib_corpus()
    assert 1_000_000 < len(c.train_text) < 1_600_000
    assert 100_000 < len(c.heldout_text) < 250_000
    assert c.train_ids.shape == (len(c.train_text),) and c.train_ids.dtype == np.int64
    assert c.heldout_ids.shape == (len(c.heldout_text),)
    assert 90 <= c.vocab.size <= 100
    assert set(c.vocab.symbols[:-1]) <= {chr(i) for i in range(32, 127)} | {"\n"}
    assert c.train_unknown < 50 and c.heldout_unknown < 50
    ppl = corpus.unigram_perplexity(c.train_ids, c.heldout_ids, c.vocab.size)
    assert 15 < ppl < 30


def test_split_is_by_file(small):
    root = Path(small.stdlib)
    texts = [(root / f).read_text(encoding="utf-8") for f in SMALL_TRAIN]
    assert small.train_text == corpus.SEPARATOR.join(texts)
    assert small.heldout_text == (root / SMALL_HELDOUT[0]).read_text(encoding="utf-8")
    assert small.train_files == SMALL_TRAIN and small.heldout_files == SMALL_HELDOUT


def test_round_trip_of_training_text(small):
    v1 = Vocab.from_text(small.train_text, min_count=1)
    assert v1.decode(v1.encode(small.train_text)) == small.train_text
    v = small.vocab
    assert v.symbols[-1] == corpus.UNK and list(v.symbols[:-1]) == sorted(v.symbols[:-1])
    ids = v.encode(small.train_text)
    known = ids != v.unk_id
    assert np.array_equal(ids, small.train_ids)
    assert v.decode(ids[known]) == "".join(np.array(list(small.train_text))[known])


def test_rare_and_unseen_characters_map_to_unknown():
    v = Vocab.from_text("aaab" + "é", min_count=2)
    assert v.symbols == ("a", corpus.UNK) and v.size == 2
    np.testing.assert_array_equal(v.encode("abé€a"), [0, 1, 1, 1, 0])
    assert v.decode([0, 1]) == "a" + corpus.UNK
    assert v.encode("").shape == (0,) and v.decode([]) == ""


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab\n{}_ x"), max_size=200))
def test_round_trip_property(text):
    v = Vocab.from_text("ab\n{}_ x" * 3, min_count=1)
    assert v.decode(v.encode(text)) == text


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 400), B=st.integers(1, 9), T=st.integers(1, 13))
def test_stream_batches_property(n, B, T):
    ids = np.arange(n, dtype=np.int64)
    K = corpus.num_windows(n, B, T)
    if K < 1:
        with pytest.raises(ValueError, match="too short"):
            corpus.stream_batches(ids, B, T)
        return
    windows = list(corpus.stream_batches(ids, B, T))
    assert len(windows) == K
    x = np.concatenate([w[0] for w in windows])  # (K T, B): column b is stream b, in order
    y = np.concatenate([w[1] for w in windows])
    np.testing.assert_array_equal(x, np.arange(B)[None, :] * K * T + np.arange(K * T)[:, None])
    np.testing.assert_array_equal(y, x + 1)


def test_stream_batches_shapes_and_contiguity():
    ids = np.arange(1000, dtype=np.int64)
    B, T = 4, 7
    windows = list(corpus.stream_batches(ids, B, T))
    L = (1000 - 1) // B
    assert len(windows) == L // T == corpus.num_windows(1000, B, T)
    for x, y in windows:
        assert x.shape == y.shape == (T, B)
        np.testing.assert_array_equal(y, x + 1)  # next character
    # window k+1 continues window k in every stream
    for (x0, _), (x1, _) in zip(windows, windows[1:], strict=False):
        np.testing.assert_array_equal(x1[0], x0[-1] + 1)
    # stream b starts at b * K T, K windows of T steps each
    np.testing.assert_array_equal(windows[0][0][0], np.arange(B) * len(windows) * T)


def test_random_windows_are_deterministic_and_shifted():
    ids = np.arange(500, dtype=np.int64)
    x, y = corpus.random_windows(ids, 5, 9, np.random.default_rng(3))
    x2, _ = corpus.random_windows(ids, 5, 9, np.random.default_rng(3))
    assert x.shape == y.shape == (9, 5)
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(np.diff(x, axis=0), 1)
    np.testing.assert_array_equal(x, x2)


def test_unigram_matches_hand_computation():
    train = np.array([0, 0, 1, 2])  # counts 2, 1, 1, 0 over V = 4
    ev = np.array([0, 3])
    # alpha = 1: p = (3, 2, 2, 1) / 8
    expected = -(math.log(3 / 8) + math.log(1 / 8)) / 2
    assert corpus.unigram_cross_entropy(train, ev, 4) == pytest.approx(expected)
    assert corpus.unigram_perplexity(train, ev, 4) == pytest.approx(math.exp(expected))
    assert corpus.unigram_perplexity(train, np.array([0, 1]), 4, alpha=0) == pytest.approx(
        math.exp(-(math.log(1 / 2) + math.log(1 / 4)) / 2)
    )
    assert corpus.unigram_perplexity(train, ev, 4, alpha=0) == math.inf
    # a uniform unigram has perplexity V
    assert corpus.unigram_perplexity(np.arange(5), np.array([1, 2, 4]), 5) == pytest.approx(5)


def test_errors(small, tmp_path):
    with pytest.raises(FileNotFoundError, match="'no_such_module.py' not found"):
        corpus.load_stdlib_corpus(("no_such_module.py",), SMALL_HELDOUT)
    with pytest.raises(FileNotFoundError, match="'bisect.py'"):
        corpus.load_stdlib_corpus(SMALL_TRAIN, SMALL_HELDOUT, stdlib=tmp_path)
    with pytest.raises(ValueError, match=r"disjoint; both hold \['copy.py'\]"):
        corpus.load_stdlib_corpus(SMALL_TRAIN, ("copy.py",))
    with pytest.raises(ValueError, match="too short for one window"):
        corpus.stream_batches(np.arange(10), 4, 3)
    with pytest.raises(ValueError, match="B must be a positive integer; got 0"):
        corpus.stream_batches(small.train_ids, 0, 3)
    with pytest.raises(TypeError, match="integer ids; got float64"):
        corpus.stream_batches(np.zeros(100), 2, 3)
    with pytest.raises(ValueError, match=r"one-dimensional .* got shape \(10, 10\)"):
        corpus.stream_batches(np.zeros((10, 10), dtype=int), 2, 3)
    with pytest.raises(ValueError, match=r"eval_ids must lie in \[0, V\) = \[0, 3\)"):
        corpus.unigram_perplexity(np.array([0, 1]), np.array([3]), 3)
    with pytest.raises(ValueError, match=r"alpha must be a finite number in \[0, inf\)"):
        corpus.unigram_perplexity(np.array([0, 1]), np.array([1]), 3, alpha=-1.0)
    with pytest.raises(TypeError, match="text must be a str; got bytes"):
        small.vocab.encode(b"abc")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, V\)"):
        small.vocab.decode([small.vocab.size])
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        corpus.random_windows(small.train_ids, 2, 3, rng=0)
