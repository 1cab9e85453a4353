"""The tone-burst digit task: shapes, determinism, the gap between equal digits, lengths, the
CTC length rule, and bad input."""

import numpy as np
import pytest

from companion import tones
from companion.ref import ctc


def test_every_band_is_shared_and_every_digit_distinct():
    p = tones.patterns()
    assert p.shape == (10, tones.N_BANDS)
    assert (p.sum(axis=1) == 2).all()  # two bands per digit
    lit = p.sum(axis=0)
    assert set(lit[lit > 0]) == {2}  # a lit band belongs to two digits: none identifies one
    assert len({tuple(row) for row in p}) == 10


def test_utterance_shape_spans_and_signal(monkeypatch):
    digits = [3, 0, 7, 7, 1]
    x, spans = tones.utterance(digits, np.random.default_rng(0), spans=True)
    assert x.dtype == np.float32 and x.ndim == 2 and x.shape[1] == tones.N_BANDS
    assert len(spans) == len(digits)
    lo, hi = tones.DURATIONS
    for (start, stop), (next_start, _) in zip(spans, spans[1:] + [(len(x), None)], strict=True):
        assert lo <= stop - start <= hi
        assert stop <= next_start
    assert spans[0][0] >= tones.EDGES[0] and len(x) - spans[-1][1] >= tones.EDGES[0]
    sigma = tones.NOISE
    monkeypatch.setattr(tones, "NOISE", 0.0)  # the signal alone
    clean, spans = tones.utterance(digits, np.random.default_rng(0), spans=True)
    silent = np.ones(len(clean), dtype=bool)
    for d, (start, stop) in zip(digits, spans, strict=True):
        burst = clean[start:stop]
        a = burst[0, tones.FORMANTS[d][0]]
        assert tones.AMPLITUDES[0] <= a <= tones.AMPLITUDES[1]
        np.testing.assert_allclose(burst, np.broadcast_to(a * tones.patterns()[d], burst.shape))
        silent[start:stop] = False
    assert (clean[silent] == 0).all()
    noise = x[silent]  # the same draws: what the noise added to the silence
    assert abs(noise.std() - sigma) < 0.1 * sigma and abs(noise.mean()) < 0.1


def test_equal_digits_are_separated_by_silence():
    rng = np.random.default_rng(1)
    for _ in range(200):
        digits = rng.integers(0, 10, size=6)
        digits[3] = digits[2]
        _, spans = tones.utterance(digits, rng, spans=True)
        gaps = [b[0] - a[1] for a, b in zip(spans, spans[1:], strict=False)]
        assert gaps[2] >= 1
        assert min(gaps) >= tones.GAPS[0] and max(gaps) <= tones.GAPS[1]
    # gaps of 0 do occur between different digits: the rule is not a blanket gap
    found = False
    for _ in range(50):
        _, spans = tones.utterance([1, 2, 3, 4], rng, spans=True)
        found |= any(b[0] == a[1] for a, b in zip(spans, spans[1:], strict=False))
    assert found


def test_batch_shapes_padding_and_lengths():
    x, input_lengths, targets, target_lengths = tones.batch(np.random.default_rng(2), 16, 2, 5)
    T, B, F = x.shape
    assert (B, F) == (16, tones.N_BANDS) and x.dtype == np.float32
    assert input_lengths.dtype == targets.dtype == target_lengths.dtype == np.int64
    assert input_lengths.max() == T and targets.shape == (16, target_lengths.max())
    assert target_lengths.min() >= 2 and target_lengths.max() <= 5
    for b in range(B):
        assert (x[input_lengths[b] :, b] == 0).all()
        assert (x[: input_lengths[b], b] != 0).any(axis=-1).all()  # noise in every frame
        L = target_lengths[b]
        assert ((targets[b, :L] >= 1) & (targets[b, :L] <= 10)).all()
        assert (targets[b, L:] == tones.BLANK).all()


def test_every_target_satisfies_the_ctc_length_rule():
    x, input_lengths, targets, target_lengths = tones.batch(np.random.default_rng(3), 200)
    for b in range(200):
        target = targets[b, : target_lengths[b]]
        assert input_lengths[b] >= ctc.min_frames(target)
        assert input_lengths[b] >= tones.DURATIONS[0] * len(target)


def test_batch_matches_utterance_and_is_deterministic():
    a = tones.batch(np.random.default_rng(4), 8)
    b = tones.batch(np.random.default_rng(4), 8)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    c = tones.batch(np.random.default_rng(5), 8)
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])
    u1 = tones.utterance([4, 4], np.random.default_rng(6))
    u2 = tones.utterance([4, 4], np.random.default_rng(6))
    np.testing.assert_array_equal(u1, u2)


def test_digit_counts_cover_the_range():
    _, _, _, target_lengths = tones.batch(np.random.default_rng(7), 300, 1, 8)
    assert set(target_lengths.tolist()) == set(range(1, 9))


def test_to_text():
    assert tones.to_text([4, 1, 8]) == "307"
    assert tones.to_text(np.array([10, 10, 1])) == "990"
    assert tones.to_text([]) == ""


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda r: tones.utterance([], r), ValueError, "non-empty"),
        (lambda r: tones.utterance([[1, 2]], r), ValueError, "non-empty sequence"),
        (lambda r: tones.utterance([1, 10], r), ValueError, "from 0 to 9; got 10"),
        (lambda r: tones.utterance([1.0], r), TypeError, "integers"),
        (lambda r: tones.utterance([1], 0), TypeError, "Generator"),
        (lambda r: tones.batch(r, 0), ValueError, "batch_size"),
        (lambda r: tones.batch(r, 4, 3, 2), ValueError, "max_digits"),
        (lambda r: tones.batch(r, 4, 0), ValueError, "min_digits"),
        (lambda r: tones.batch(r, 2.0), TypeError, "batch_size"),
        (lambda r: tones.batch(None, 2), TypeError, "Generator"),
        (lambda r: tones.to_text([0, 1]), ValueError, "blank"),
        (lambda r: tones.to_text([11]), ValueError, "got 11"),
        (lambda r: tones.to_text([1.5]), TypeError, "integer"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(np.random.default_rng(0))
