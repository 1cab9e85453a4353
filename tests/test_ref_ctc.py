"""The numpy CTC: loss against torch.nn.CTCLoss and against enumerating every path, the
collapse rule, best-path decoding, and each bad input."""

import itertools

import numpy as np
import pytest
import torch

from companion.ref import ctc

CLOSE = {"rtol": 1e-10, "atol": 1e-10}


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def random_batch(seed, T, B, C, Lmax, repeats=False, empty=False):
    """Log-probs (T, B, C) float64 and a padded batch of targets that T frames can hold."""
    rng = np.random.default_rng(seed)
    log_probs = log_softmax(2.0 * rng.standard_normal((T, B, C)))
    targets = rng.integers(1, C, size=(B, Lmax))
    if repeats:
        targets[:, 1::2] = targets[:, ::2][:, : Lmax // 2]  # l_2 = l_1, l_4 = l_3, ...
    target_lengths = rng.integers(0 if empty else 1, Lmax + 1, size=B)
    if empty:
        target_lengths[0] = 0
    shortest = [max(ctc.min_frames(targets[b, :L]), 1) for b, L in enumerate(target_lengths)]
    input_lengths = np.array([rng.integers(n, T + 1) for n in shortest])
    input_lengths[-1] = T
    targets[np.arange(Lmax) >= target_lengths[:, None]] = 0  # padding
    return log_probs, targets, input_lengths, target_lengths


def torch_loss(log_probs, targets, input_lengths, target_lengths, reduction, blank=0):
    out = torch.nn.functional.ctc_loss(
        torch.from_numpy(log_probs),
        torch.from_numpy(targets),
        torch.from_numpy(input_lengths),
        torch.from_numpy(target_lengths),
        blank=blank,
        reduction=reduction,
    )
    return out.numpy()


CASES = [  # (seed, T, B, C, Lmax, repeats, empty)
    (0, 1, 1, 2, 1, False, False),
    (1, 5, 3, 4, 2, False, False),
    (2, 12, 4, 6, 5, True, False),
    (3, 20, 6, 11, 8, False, True),
    (4, 30, 5, 3, 10, True, True),
    (5, 8, 2, 5, 4, True, False),
]


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "T{1}-B{2}-C{3}-L{4}".format(*c))
def test_loss_matches_torch(case, reduction):
    seed, T, B, C, Lmax, repeats, empty = case
    batch = random_batch(seed, T, B, C, Lmax, repeats, empty)
    ours = ctc.loss(*batch, reduction=reduction)
    np.testing.assert_allclose(ours, torch_loss(*batch, reduction), **CLOSE)


def test_loss_with_another_blank_matches_torch():
    log_probs, targets, input_lengths, target_lengths = random_batch(7, 10, 3, 5, 3)
    targets = np.where(targets == 4, 1, targets)  # class 4 becomes the blank
    targets[np.arange(3) >= target_lengths[:, None]] = 0
    batch = (log_probs, targets, input_lengths, target_lengths)
    ours = ctc.loss(*batch, blank=4, reduction="none")
    np.testing.assert_allclose(ours, torch_loss(*batch, "none", blank=4), **CLOSE)


def test_loss_matches_torch_in_float32():
    log_probs, *rest = random_batch(8, 25, 4, 7, 6, True)
    lp32 = log_probs.astype(np.float32)
    ours = ctc.loss(lp32, *rest, reduction="none")
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, torch_loss(lp32, *rest, "none"), rtol=1e-5)


def brute_force_probability(log_probs, target):
    """Sum of p(pi | x) over all C^T paths pi with B(pi) = target."""
    T, C = log_probs.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        if ctc.collapse(path) == list(target):
            total += np.exp(sum(log_probs[t, k] for t, k in enumerate(path)))
    return total


@pytest.mark.parametrize(
    "T, C, target", [(4, 3, [1, 2]), (5, 3, [1, 1]), (5, 2, [1]), (3, 3, []), (6, 3, [2, 1, 2])]
)
def test_loss_is_the_sum_over_all_paths(T, C, target):
    rng = np.random.default_rng(T * 10 + C)
    log_probs = log_softmax(rng.standard_normal((T, C)))
    nll = ctc.loss(
        log_probs[:, None], np.array([target or [0]]), [T], [len(target)], reduction="none"
    )
    p = brute_force_probability(log_probs, target)
    assert p > 0
    np.testing.assert_allclose(np.exp(-nll[0]), p, rtol=1e-12)


def test_log_alpha_recursion_by_hand():
    """T = 2, target (1,): alpha_2 over l' = (0, 1, 0) from the recursion written out."""
    y = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    la = ctc.log_alpha(np.log(y), [1])
    expected = [
        [y[0, 0], y[0, 1], 0.0],
        [y[0, 0] * y[1, 0], (y[0, 0] + y[0, 1]) * y[1, 1], y[0, 1] * y[1, 0]],
    ]
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(la, np.log(expected), rtol=1e-12)


def test_log_alpha_forbids_skipping_the_blank_between_equal_labels():
    log_probs = np.log(np.full((4, 3), 1 / 3))
    la = ctc.log_alpha(log_probs, [1, 1])  # l' = (0, 1, 0, 1, 0)
    assert np.isneginf(la[1, 3])  # (1, 1) would need the skip 1 -> 3
    assert np.isfinite(la[2, 3])  # 1, blank, 1
    la = ctc.log_alpha(log_probs, [1, 2])
    assert np.isfinite(la[1, 3])  # 1, 2: the skip is allowed


def test_log_alpha_is_minus_inf_where_unreachable_and_keeps_the_dtype():
    log_probs = log_softmax(np.random.default_rng(0).standard_normal((6, 4))).astype(np.float32)
    la = ctc.log_alpha(log_probs, [1, 2, 3])
    assert la.shape == (6, 7) and la.dtype == np.float32
    assert np.isneginf(la[0, 2:]).all()  # only s = 1, 2 at the first frame
    assert np.isfinite(la[-1, -2:]).all()


def test_extend_and_min_frames():
    np.testing.assert_array_equal(ctc.extend([3, 3, 5]), [0, 3, 0, 3, 0, 5, 0])
    np.testing.assert_array_equal(ctc.extend([], blank=0), [0])
    np.testing.assert_array_equal(ctc.extend([1, 2], blank=4), [4, 1, 4, 2, 4])
    assert ctc.min_frames([3, 3, 5]) == 4
    assert ctc.min_frames([1, 1, 1]) == 5
    assert ctc.min_frames([1, 2, 1]) == 3
    assert ctc.min_frames([]) == 0


@pytest.mark.parametrize(
    "path, expected",
    [
        ([1, 0, 1, 2, 0], [1, 1, 2]),  # B(a-ab-) = aab
        ([0, 1, 1, 0, 0, 1, 2, 2], [1, 1, 2]),  # B(-aa--abb) = aab
        ([1, 1, 2, 2], [1, 2]),
        ([0, 0, 0], []),
        ([], []),
        ([3], [3]),
    ],
)
def test_collapse(path, expected):
    assert ctc.collapse(path) == expected
    assert ctc.collapse(np.array(path, dtype=np.int64)) == expected


def test_collapse_with_another_blank():
    assert ctc.collapse([2, 2, 0, 2, 1], blank=2) == [0, 1]


def test_greedy_decode_reads_the_best_path_within_each_length():
    paths = np.array([[1, 1, 0, 2, 2, 0], [0, 3, 3, 3, 0, 1]]).T  # (T, B)
    log_probs = log_softmax(5.0 * np.eye(4)[paths])  # (T, B, C), peaked at the paths
    assert ctc.greedy_decode(log_probs, [6, 6]) == [[1, 2], [3, 1]]
    assert ctc.greedy_decode(log_probs, [3, 4]) == [[1], [3]]  # padded frames not read


def test_greedy_decode_takes_logits():
    logits = np.random.default_rng(1).standard_normal((7, 3, 5))
    assert ctc.greedy_decode(logits, [7, 7, 7]) == ctc.greedy_decode(log_softmax(logits), [7] * 3)


# --- bad input ------------------------------------------------------------------------------


def good():
    return random_batch(0, 6, 2, 4, 2)


def test_a_target_longer_than_the_frames_names_both_numbers():
    log_probs = log_softmax(np.zeros((4, 1, 3)))
    with pytest.raises(ValueError, match=r"T = 4 frames.*L = 3 labels with 2 repeat.*>= .* 5"):
        ctc.loss(log_probs, np.array([[1, 1, 1]]), [4], [3])
    with pytest.raises(ValueError, match="T = 2 frames"):
        ctc.log_alpha(log_probs[:2, 0], [1, 2, 1])
    ctc.loss(log_probs, np.array([[1, 2, 1]]), [3], [3])  # 3 frames hold 3 labels


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda b: (b[0], np.array([[1, 0], [2, 0]]), [6, 6], [2, 1]), ValueError, "blank"),
        (lambda b: (b[0], np.array([[1, 4], [2, 0]]), [6, 6], [2, 1]), ValueError, r"\[0, 4\)"),
        (lambda b: (b[0], np.array([[1, -1], [2, 0]]), [6, 6], [2, 1]), ValueError, "label -1"),
        (lambda b: (b[0], b[1], [7, 6], b[3]), ValueError, "input_lengths must be from 1"),
        (lambda b: (b[0], b[1], [0, 6], b[3]), ValueError, "input_lengths must be from 1"),
        (lambda b: (b[0], b[1], b[2], [3, 1]), ValueError, "target_lengths must be from 0"),
        (lambda b: (b[0], b[1], b[2], [-1, 1]), ValueError, "target_lengths"),
        (lambda b: (b[0], b[1], [6], b[3]), ValueError, r"shape \(B,\)"),
        (lambda b: (b[0], b[1][0], b[2], b[3]), ValueError, r"\(B, Lmax\)"),
        (lambda b: (b[0], b[1].astype(float), b[2], b[3]), TypeError, "integers"),
        (lambda b: (b[0], b[1], [6.0, 6.0], b[3]), TypeError, "integers"),
        (lambda b: (b[0][:, 0], *b[1:]), ValueError, r"\(T, B, C\)"),
        (lambda b: (b[0][:0], *b[1:]), ValueError, "no empty axis"),
        (lambda b: (torch.from_numpy(b[0]), *b[1:]), TypeError, "numpy array"),
        (lambda b: (b[0].astype(int), *b[1:]), TypeError, "floating"),
        (lambda b: (b[0] + 1.0, *b[1:]), ValueError, "not logits"),
        (lambda b: (np.where(b[0] < -2, np.nan, b[0]), *b[1:]), ValueError, "log-probabilities"),
    ],
)
def test_bad_input_to_loss(change, error, match):
    with pytest.raises(error, match=match):
        ctc.loss(*change(good()))


def test_padding_is_never_read():
    log_probs, targets, input_lengths, target_lengths = good()
    expected = ctc.loss(log_probs, targets, input_lengths, target_lengths, reduction="none")
    padded = targets.copy()
    padded[np.arange(2) >= target_lengths[:, None]] = 0  # a blank in the padding is fine
    frames = log_probs.copy()
    frames[input_lengths[0] :, 0] = np.nan  # nor are the frames beyond a sequence's length
    ours = ctc.loss(frames, padded, input_lengths, target_lengths, reduction="none")
    np.testing.assert_array_equal(ours, expected)


def test_bad_reduction_and_blank():
    with pytest.raises(ValueError, match="reduction must be one of"):
        ctc.loss(*good(), reduction="average")
    with pytest.raises(ValueError, match="blank must be an integer from 0 to 3"):
        ctc.loss(*good(), blank=4)
    with pytest.raises(TypeError, match="blank must be an integer"):
        ctc.log_alpha(good()[0][:, 0], [1], blank=0.0)


def test_bad_input_to_log_alpha_collapse_and_decode():
    lp = good()[0]
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        ctc.log_alpha(lp, [1])
    with pytest.raises(ValueError, match="one-dimensional"):
        ctc.log_alpha(lp[:, 0], [[1]])
    with pytest.raises(ValueError, match="blank"):
        ctc.log_alpha(lp[:, 0], [1, 0])
    with pytest.raises(ValueError, match="one-dimensional"):
        ctc.collapse([[1, 2]])
    with pytest.raises(TypeError, match="integers"):
        ctc.collapse([1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        ctc.greedy_decode(np.full((2, 1, 3), np.nan), [2])
    with pytest.raises(ValueError, match="input_lengths must be from 1 to T = 6"):
        ctc.greedy_decode(lp, [7, 1])
    with pytest.raises(ValueError, match="blank"):
        ctc.extend([2, 0, 1])
