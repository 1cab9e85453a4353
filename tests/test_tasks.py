"""The synthetic tasks: label definitions, shapes, seeding and baselines."""

import math

import numpy as np
import pytest
import torch

from companion import tasks
from companion.tasks import Task


def test_adding_problem_labels_and_markers():
    T, B = 30, 500
    x, y = tasks.adding_problem(T, B, np.random.default_rng(0))
    assert x.shape == (T, B, 2) and y.shape == (B, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(markers.sum(axis=0), 2.0)  # exactly two markers
    first = np.argmax(markers, axis=0)
    second = T - 1 - np.argmax(markers[::-1], axis=0)
    assert (first < T // 2).all() and (second >= T // 2).all()
    b = np.arange(B)
    np.testing.assert_allclose(y[:, 0], values[first, b] + values[second, b], rtol=1e-6)
    assert ((values >= 0) & (values < 1)).all()


def test_adding_problem_is_seeded():
    a = tasks.adding_problem(10, 4, np.random.default_rng(3))
    b = tasks.adding_problem(10, 4, np.random.default_rng(3))
    c = tasks.adding_problem(10, 4, np.random.default_rng(4))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_adding_baseline_is_one_sixth_and_matches_data():
    assert tasks.adding_baseline_mse() == 1 / 6
    assert round(tasks.adding_baseline_mse(), 3) == 0.167
    _, y = tasks.adding_problem(4, 200_000, np.random.default_rng(1))
    mse_of_one = float(np.mean((y - 1.0) ** 2))
    assert mse_of_one == pytest.approx(1 / 6, abs=0.003)  # standard error ~ 0.0005
    assert float(np.mean(y)) == pytest.approx(1.0, abs=0.005)


@pytest.mark.parametrize("delay, n_symbols, n_copy", [(1, 8, 10), (10, 5, 10), (20, 3, 4)])
def test_copy_task_layout(delay, n_symbols, n_copy):
    B = 6
    x, y, recall = tasks.copy_task(delay, B, np.random.default_rng(0), n_symbols, n_copy)
    L, K = delay + 2 * n_copy, n_symbols
    assert x.shape == (L, B, K + 2) and y.shape == (L, B) and recall.shape == (L, B)
    np.testing.assert_array_equal(x.sum(-1), 1.0)  # one-hot
    tokens = x.argmax(-1)
    data = tokens[:n_copy]
    assert ((data >= 1) & (data <= K)).all()
    assert (tokens[n_copy : n_copy + delay - 1] == 0).all()  # blanks while waiting
    assert (tokens[n_copy + delay - 1] == K + 1).all()  # the delimiter
    assert (tokens[n_copy + delay :] == 0).all()
    np.testing.assert_array_equal(y[-n_copy:], data)  # recall the data, in order
    assert (y[:-n_copy] == 0).all()
    np.testing.assert_array_equal(
        recall, np.broadcast_to(np.arange(L)[:, None] >= L - n_copy, (L, B))
    )


def test_copy_baselines():
    assert tasks.copy_baseline(10, 8, 10, "recall") == pytest.approx(np.log(8))
    assert tasks.copy_baseline(10, 8, 10, "all") == pytest.approx(10 * np.log(8) / 30)
    assert tasks.copy_baseline(100, 8, 10, "all") < tasks.copy_baseline(10, 8, 10, "all")
    # the memoryless predictor's cross-entropy, computed from data
    x, y, recall = tasks.copy_task(10, 50, np.random.default_rng(0), 5, 10)
    p = np.zeros((*y.shape, 7))
    p[..., 0] = 1.0
    p[recall] = np.r_[0, np.full(5, 0.2), 0]
    ce = -np.log(np.clip(np.take_along_axis(p, y[..., None], -1)[..., 0], 1e-300, None))
    assert ce[recall].mean() == pytest.approx(tasks.copy_baseline(10, 5, 10, "recall"))
    assert ce.mean() == pytest.approx(tasks.copy_baseline(10, 5, 10, "all"))


@pytest.mark.parametrize("T", [10, 37, 105])
def test_temporal_order_labels(T):
    B = 400
    x, y = tasks.temporal_order(T, B, np.random.default_rng(T))
    assert x.shape == (T, B, 8) and y.shape == (B,) and y.dtype == np.int64
    tokens = x.argmax(-1)
    assert (tokens[0] == 4).all() and (tokens[-1] == 5).all()  # B ... E
    informative = tokens >= 6
    np.testing.assert_array_equal(informative.sum(0), 2)
    t1 = informative.argmax(0)
    t2 = T - 1 - informative[::-1].argmax(0)
    assert (t1 >= T // 10).all() and (t1 <= 2 * T // 10).all()
    assert (t2 >= 5 * T // 10).all() and (t2 <= 6 * T // 10).all()
    b = np.arange(B)
    s1, s2 = tokens[t1, b] - 6, tokens[t2, b] - 6  # 0 = X, 1 = Y
    np.testing.assert_array_equal(y, 2 * s1 + s2)  # XX 0, XY 1, YX 2, YY 3
    assert set(np.unique(y)) == {0, 1, 2, 3}
    assert tasks.temporal_order_baseline() == pytest.approx(np.log(4))


def test_noisy_sine_is_a_shifted_clean_wave_plus_noise():
    T, B, period, noise = 50, 300, 12.0, 0.2
    x, y = tasks.noisy_sine(T, B, np.random.default_rng(0), period=period, noise=noise)
    assert x.shape == (T, B, 1) and y.shape == (T, B, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    y = y[..., 0].astype(np.float64)
    # the clean target is a sine of the given period: recover each sequence's phase from y_0
    # and y_1 and rebuild the whole wave
    t = np.arange(1, T + 1)[:, None]
    w = 2 * np.pi / period
    phase = np.arctan2(
        y[0] * np.sin(2 * w) - y[1] * np.sin(w), y[1] * np.cos(w) - y[0] * np.cos(2 * w)
    )
    np.testing.assert_allclose(y, np.sin(w * t + phase), atol=2e-6)
    # x_t is the clean value at t (the previous target) plus N(0, noise^2)
    residual = x[1:, :, 0] - y[:-1]
    assert residual.mean() == pytest.approx(0.0, abs=0.01)
    assert residual.std() == pytest.approx(noise, rel=0.02)
    residual0 = x[0, :, 0] - np.sin(phase)
    assert residual0.std() == pytest.approx(noise, rel=0.15)
    # random phases: the first values are spread over [-1, 1]
    assert y[0].min() < -0.9 and y[0].max() > 0.9


def test_noisy_sine_without_noise_is_exact_next_step():
    x, y = tasks.noisy_sine(20, 3, np.random.default_rng(1), period=7.0, noise=0.0)
    np.testing.assert_array_equal(x[1:], y[:-1])
    assert np.abs(x).max() <= 1.0


def test_noisy_sine_random_period_per_sequence():
    T, B = 200, 64
    _, y = tasks.noisy_sine(T, B, np.random.default_rng(2), period=(10.0, 30.0), noise=0.0)
    y = y[..., 0].astype(np.float64)
    # the period of each sequence from its zero crossings (two per period)
    crossings = (np.diff(np.sign(y), axis=0) != 0).sum(axis=0)
    periods = 2 * T / crossings
    assert periods.min() > 9 and periods.max() < 33
    assert periods.std() > 2  # not all the same


def test_noisy_sine_is_seeded():
    a = tasks.noisy_sine(10, 4, np.random.default_rng(3))
    b = tasks.noisy_sine(10, 4, np.random.default_rng(3))
    c = tasks.noisy_sine(10, 4, np.random.default_rng(4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_noisy_sine_baseline_matches_data():
    period, noise = 20.0, 0.1
    x, y = tasks.noisy_sine(400, 2000, np.random.default_rng(5), period=period, noise=noise)
    repeat_last = float(np.mean((x.astype(np.float64) - y) ** 2))
    baseline = tasks.noisy_sine_baseline_mse(period, noise)
    assert baseline == pytest.approx(1 - np.cos(2 * np.pi / period) + noise**2)
    assert repeat_last == pytest.approx(baseline, rel=0.01)
    assert float(np.mean(y**2)) == pytest.approx(0.5, abs=0.01)  # predicting 0


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: tasks.adding_problem(1, 4, np.random.default_rng(0)), ValueError, "T must"),
        (lambda: tasks.noisy_sine(0, 4, np.random.default_rng(0)), ValueError, "T must"),
        (lambda: tasks.noisy_sine(5, 0, np.random.default_rng(0)), ValueError, "B must"),
        (lambda: tasks.noisy_sine(5, 2, None), TypeError, "Generator"),
        (
            lambda: tasks.noisy_sine(5, 2, np.random.default_rng(0), period=0.0),
            ValueError,
            "period must be a positive",
        ),
        (
            lambda: tasks.noisy_sine(5, 2, np.random.default_rng(0), period=(30.0, 10.0)),
            ValueError,
            r"low <= high; got \(30.0, 10.0\)",
        ),
        (
            lambda: tasks.noisy_sine(5, 2, np.random.default_rng(0), noise=-0.1),
            ValueError,
            r"noise must be a finite number in \[0, inf\); got -0.1",
        ),
        (
            lambda: tasks.noisy_sine_baseline_mse((10.0, 20.0)),
            ValueError,
            "needs a single period",
        ),
        (lambda: tasks.adding_problem(10, 0, np.random.default_rng(0)), ValueError, "B must"),
        (lambda: tasks.adding_problem(10, 4, 0), TypeError, "Generator"),
        (lambda: tasks.copy_task(0, 4, np.random.default_rng(0)), ValueError, "delay must"),
        (
            lambda: tasks.copy_baseline(10, loss="mean"),
            ValueError,
            r"loss must be one of \('all', 'recall'\)",
        ),
        (lambda: tasks.temporal_order(9, 4, np.random.default_rng(0)), ValueError, ">= 10"),
        (lambda: tasks.temporal_order(20.0, 4, np.random.default_rng(0)), TypeError, "T must"),
        (lambda: tasks.adding_problem(10, True, np.random.default_rng(0)), TypeError, "B must"),
        (lambda: tasks.copy_task(3, 4, np.random.default_rng(0), 0), ValueError, "n_symbols"),
        (lambda: tasks.copy_baseline(10, n_copy=0), ValueError, "n_copy must be"),
        (
            lambda: tasks.noisy_sine(5, 2, np.random.default_rng(0), period=(1, 2, 3)),
            ValueError,
            "a pair",
        ),  # fmt: skip
        (lambda: tasks.mse(torch.ones(2, 1), torch.ones(2)), ValueError, "one shape"),
        (
            lambda: tasks.masked_cross_entropy(
                torch.ones(3, 2, 4), torch.ones(3, 2), torch.ones(2)
            ),
            ValueError,
            "must agree",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_losses_and_metrics():
    logits = torch.zeros(4, 2, 3)
    y = torch.zeros(4, 2, dtype=torch.long)
    mask = torch.zeros(4, 2, dtype=torch.bool)
    mask[-1] = True
    assert float(tasks.masked_cross_entropy(logits, y, mask)) == pytest.approx(math.log(3))
    logits[:-1, :, 0] = -50.0  # wrong, and very sure, off the mask: not counted
    assert float(tasks.masked_cross_entropy(logits, y, mask)) == pytest.approx(math.log(3))
    assert float(tasks.cross_entropy(torch.zeros(5, 4), torch.zeros(5))) == pytest.approx(
        math.log(4)
    )
    _, y_add = tasks.adding_problem(10, 5000, np.random.default_rng(0))
    ones = torch.ones(5000, 1)
    assert float(tasks.mse(ones, torch.from_numpy(y_add))) == pytest.approx(1 / 6, abs=0.01)
    logits = torch.nn.functional.one_hot(torch.tensor([1, 2, 0, 0]), 3).float()
    assert tasks.accuracy(logits, torch.tensor([1, 2, 1, 1])) == 0.5
    y = torch.tensor([[0, 0], [1, 2]])
    mask = torch.tensor([[False, False], [True, True]])
    logits = torch.nn.functional.one_hot(torch.tensor([[1, 1], [1, 0]]), 3).float()
    assert tasks.recall_accuracy(logits, y, mask) == 0.5


@pytest.mark.parametrize(
    "task, D, Q, readout, metrics, baseline",
    [
        (Task.adding(7), 2, 1, "last", [], 1 / 6),
        (Task.temporal_order(20), 8, 4, "last", ["accuracy"], math.log(4)),
        (Task.copy(4, n_symbols=5, n_copy=3), 7, 7, "all", ["recall accuracy"], math.log(5)),
    ],
)
def test_task_bundles_data_loss_metrics_and_sizes(task, D, Q, readout, metrics, baseline):
    x, *targets = task.sample(np.random.default_rng(0), 6)
    assert x.shape[1:] == (6, D) and x.dtype == np.float32
    assert (task.input_size, task.output_size, task.readout) == (D, Q, readout)
    assert list(task.metrics) == metrics and task.baseline == pytest.approx(baseline)
    T = x.shape[0]
    out = torch.zeros((6, Q) if readout == "last" else (T, 6, Q))
    targets = [torch.from_numpy(t) for t in targets]
    assert float(task.loss(out, *targets)) >= 0
    for metric in task.metrics.values():
        assert 0 <= metric(out, *targets) <= 1
    again = task.sample(np.random.default_rng(0), 6)[0]
    np.testing.assert_array_equal(x, again)  # seeded by the generator only
