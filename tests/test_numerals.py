"""Chapter 10's number task: the English and Chinese forms, the held-out split, the batches."""

import numpy as np
import pytest

from companion import numerals as nm


@pytest.mark.parametrize(
    "n,english,chinese",
    [
        (7, "seven", "七"),
        (15, "fifteen", "十五"),
        (105, "one hundred and five", "一百零五"),
        (10010, "ten thousand and ten", "一万零一十"),
        (
            342506,
            "three hundred and forty - two thousand , five hundred and six",
            "三十四万二千五百零六",
        ),
        (1000005, "one million and five", "一百万零五"),
        (100000000, "one hundred million", "一亿"),
    ],
)
def test_the_two_forms(n, english, chinese):
    assert nm.english(n) == english.split()
    assert "".join(nm.chinese(n)) == chinese


def test_the_longest_number_has_thirty_source_tokens():
    n = 10**nm.MAX_DIGITS - 1  # 999,999,999,999
    assert len(nm.english(n)) == 30
    assert len(nm.chinese(n)) == 23


def test_the_split_is_by_item_and_deterministic():
    train = nm.draw(np.random.default_rng(0), 3000, "train")
    test = nm.draw(np.random.default_rng(0), 800, "test")
    assert not set(train.tolist()) & set(test.tolist())
    assert len(set(train.tolist())) == 3000
    assert all(nm.held_out(int(n)) for n in test) and not any(nm.held_out(int(n)) for n in train)
    np.testing.assert_array_equal(train, nm.draw(np.random.default_rng(0), 3000, "train"))
    share = np.mean([nm.held_out(n) for n in range(20000)])
    assert abs(share - nm.HELD_OUT_SHARE) < 0.015
    digits = np.array([len(str(n)) for n in train])
    assert digits.min() == 1 and digits.max() == nm.MAX_DIGITS


def test_vocab_and_batch():
    data = nm.pairs([7, 342506, 1000005])
    (src, lengths, y_in), y_out = data.batch([0, 1])
    assert src.shape == (12, 2) and lengths.tolist() == [1, 12]
    assert (src[1:, 0] == nm.PAD).all()
    assert data.src_vocab.decode(src[:, 1]) == nm.english(342506)
    assert y_in[0].tolist() == [nm.BOS, nm.BOS]
    np.testing.assert_array_equal(y_in[1:2], y_out[0:1])  # shifted by one
    assert y_out[1, 0] == nm.EOS and y_out[2:, 0].tolist() == [nm.PAD] * 9
    assert data.tgt_vocab.decode(y_out[:, 1]) == nm.chinese(342506)
    assert data.tgt_vocab.decode([nm.BOS, *data.tgt_vocab.encode(["七"]), nm.EOS, 5]) == ["七"]
    rng = np.random.default_rng(0)
    (s, n, _), _ = data.sampler(rng, 5)()
    assert s.shape[1] == 5 and n.shape == (5,)


def test_held_out_items_use_the_training_vocabularies():
    train = nm.pairs([1, 2, 3])
    with pytest.raises(KeyError, match="'four' is not in the vocabulary"):
        nm.pairs([4], (train.src_vocab, train.tgt_vocab)).batch([0])


@pytest.mark.parametrize(
    "n,error,match",
    [(-1, ValueError, ">= 0"), (10**12, ValueError, "below 10"), (True, TypeError, "n"),
     (2.0, TypeError, "n")],
)  # fmt: skip
def test_bad_numbers(n, error, match):
    with pytest.raises(error, match=match):
        nm.english(n)


def test_bad_draws():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="split"):
        nm.draw(rng, 3, "validation")
    with pytest.raises(ValueError, match="count"):
        nm.draw(rng, 0, "train")
    with pytest.raises(TypeError, match="Generator"):
        nm.draw(0, 3, "train")
    with pytest.raises(ValueError, match="at least one"):
        nm.pad([])


def test_bucketed_batches_share_a_source_length_and_draw_every_item_alike():
    data = nm.pairs(nm.draw(np.random.default_rng(0), 400, "train"))
    lengths = np.array([len(s) for s in data.sources])
    draw = data.sampler(np.random.default_rng(1), 16)
    index = {tuple(s): i for i, s in enumerate(data.sources)}
    batches, per_length, reached = 3000, {}, set()
    for _ in range(batches):
        (src, n, _), _ = draw()
        assert (n == n[0]).all() and src.shape[0] == n[0]  # one length, no padding
        per_length[int(n[0])] = per_length.get(int(n[0]), 0) + 1
        reached.update(index[tuple(data.src_vocab.decode(src[:, b]))] for b in range(16))
    # a length is drawn with probability n_L / N, so that each item's is 1 / N
    for L, k in per_length.items():
        p = np.mean(lengths == L)
        assert abs(k / batches - p) < 4 * np.sqrt(p * (1 - p) / batches) + 1e-3, L
    assert len(reached) == len(data)
