"""A synthetic speech-like task for CTC: digit strings spoken as noisy tone bursts.

An utterance of the digits d_1 .. d_L is a sequence of frames, each a vector of ``N_BANDS``
band energies (a coarse spectrogram). Digit d sounds as a burst that lights two bands, like
the two formants that tell vowels apart::

    bands of d = {FORMANTS[d, 0], FORMANTS[d, 1]} = {BANDS[d], BANDS[(d + 3) % 10]}

so every lit band is shared by two digits and no single band identifies one; the network must
read the pair. An utterance is built, frame by frame, as::

    silence (1 .. 3 frames), burst(d_1), gap, burst(d_2), gap, ..., burst(d_L), silence (1 .. 3)
    burst(d): DURATIONS frames (3 .. 7) of a_d * (pattern of d), a_d ~ U(0.6, 1.4) per digit
    gap:      GAPS frames of silence (0 .. 2), but at least 1 between two equal digits
    x_t     = signal_t + noise_t,  noise_t ~ N(0, NOISE^2) in every band, every frame

Without the gap, two equal digits in a row would be one longer burst, which no listener (and
no network) could tell from one digit held longer: the repeat would be inaudible. The gap is
also what CTC needs to emit the label twice (a blank between repeats). Nothing marks where a
digit starts: the targets are the digit strings alone, the alignment is unknown, as in speech.

Classes: digit d is class d + 1, and class 0 (``BLANK``) is CTC's blank, torch's default;
``N_CLASSES`` = 11. Every draw comes from the numpy Generator passed in. This module imports
numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from companion import checks

N_DIGITS = 10
N_CLASSES = N_DIGITS + 1
BLANK = 0
N_BANDS = 16
#: The band of each digit's first formant; its second is the first formant of digit d + 3.
BANDS = np.array([1, 3, 4, 6, 7, 9, 10, 12, 13, 15])
#: (10, 2) the two lit bands of each digit.
FORMANTS = np.stack([BANDS, BANDS[(np.arange(N_DIGITS) + 3) % N_DIGITS]], axis=1)
DURATIONS = (3, 7)  # frames per burst, inclusive
GAPS = (0, 2)  # frames of silence between two bursts, inclusive
EDGES = (1, 3)  # frames of silence before the first burst and after the last
AMPLITUDES = (0.6, 1.4)  # a burst's loudness, uniform
NOISE = 0.35  # standard deviation of the additive noise


def patterns() -> np.ndarray:
    """(10, N_BANDS) float32: row d is 1 in the two bands of digit d, 0 elsewhere."""
    p = np.zeros((N_DIGITS, N_BANDS), dtype=np.float32)
    p[np.arange(N_DIGITS)[:, None], FORMANTS] = 1.0
    return p


def utterance(
    digits: Sequence[int] | np.ndarray, rng: np.random.Generator, spans: bool = False
) -> np.ndarray | tuple[np.ndarray, list[tuple[int, int]]]:
    """The frames (T, N_BANDS) float32 of one utterance of ``digits`` (module docstring).

    Args:
        digits: the digits 0 .. 9 (not the classes), at least one.
        rng: the numpy Generator that draws the durations, gaps, loudness and noise.
        spans: also return where each burst is, a list of (start, stop) frame indices
            (``x[start:stop]`` is the burst), for figures; the model never sees it.

    Raises:
        TypeError: ``rng`` not a numpy Generator, a digit not an integer.
        ValueError: ``digits`` empty or not one-dimensional, a digit outside 0 .. 9.
    """
    rng = checks.generator(rng)
    digits = _digits(digits)
    durations = rng.integers(DURATIONS[0], DURATIONS[1] + 1, size=len(digits))
    gaps = rng.integers(GAPS[0], GAPS[1] + 1, size=len(digits))
    gaps[0] = rng.integers(EDGES[0], EDGES[1] + 1)  # the silence before the first burst
    gaps[1:][digits[1:] == digits[:-1]] = np.maximum(gaps[1:][digits[1:] == digits[:-1]], 1)
    tail = rng.integers(EDGES[0], EDGES[1] + 1)
    loudness = rng.uniform(*AMPLITUDES, size=len(digits))
    starts = np.cumsum(gaps + np.r_[0, durations[:-1]])
    T = int(starts[-1] + durations[-1] + tail)
    signal = np.zeros((T, N_BANDS), dtype=np.float32)
    pattern = patterns()
    for d, start, n, a in zip(digits, starts, durations, loudness, strict=True):
        signal[start : start + n] = a * pattern[d]
    x = (signal + NOISE * rng.standard_normal((T, N_BANDS))).astype(np.float32)
    if spans:
        return x, [(int(s), int(s + n)) for s, n in zip(starts, durations, strict=True)]
    return x


def batch(
    rng: np.random.Generator, batch_size: int, min_digits: int = 1, max_digits: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A padded batch of utterances of random digit strings, time-major, ready for CTC.

    The number of digits of each utterance is uniform on ``min_digits`` .. ``max_digits``,
    each digit uniform on 0 .. 9.

    Returns:
        ``(x, input_lengths, targets, target_lengths)``: x (T, B, N_BANDS) float32, zero after
        each utterance's end, T the longest; input_lengths (B,) int64 its frames; targets
        (B, Lmax) int64, the classes d + 1 padded with 0 (the blank, never read); and
        target_lengths (B,) int64, the number of digits.

    Raises:
        TypeError: ``rng`` not a numpy Generator, a count not an integer.
        ValueError: a count below 1, ``max_digits`` below ``min_digits``.
    """
    rng = checks.generator(rng)
    B = checks.positive_int("batch_size", batch_size)
    lo = checks.positive_int("min_digits", min_digits)
    hi = checks.integer("max_digits", max_digits, minimum=lo)
    strings = [rng.integers(0, N_DIGITS, size=rng.integers(lo, hi + 1)) for _ in range(B)]
    frames = [utterance(s, rng) for s in strings]
    input_lengths = np.array([len(f) for f in frames], dtype=np.int64)
    target_lengths = np.array([len(s) for s in strings], dtype=np.int64)
    x = np.zeros((input_lengths.max(), B, N_BANDS), dtype=np.float32)
    targets = np.full((B, target_lengths.max()), BLANK, dtype=np.int64)
    for b, (f, s) in enumerate(zip(frames, strings, strict=True)):
        x[: len(f), b] = f
        targets[b, : len(s)] = s + 1  # digit d is class d + 1
    return x, input_lengths, targets, target_lengths


def to_text(labels: Sequence[int] | np.ndarray) -> str:
    """The digits of a sequence of classes, as a string: ``to_text([4, 1, 8]) == "307"``.

    Raises ``ValueError`` for the blank or a class outside 1 .. 10, ``TypeError`` for
    non-integers.
    """
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integer classes; got dtype {labels.dtype}")
    labels = labels.astype(np.int64).ravel()
    bad = (labels < 1) | (labels > N_DIGITS)
    if bad.any():
        raise ValueError(
            f"labels must be classes 1 .. {N_DIGITS} (digit d is class d + 1; {BLANK} is the "
            f"blank); got {labels[bad][0]}"
        )
    return "".join(str(k - 1) for k in labels)


def _digits(digits: object) -> np.ndarray:
    arr = np.asarray(digits)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"digits must be a non-empty sequence of digits; got shape {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"digits must be integers 0 .. 9; got dtype {arr.dtype}")
    if ((arr < 0) | (arr >= N_DIGITS)).any():
        raise ValueError(f"digits must be from 0 to 9; got {arr[(arr < 0) | (arr >= N_DIGITS)][0]}")
    return arr.astype(np.int64)
