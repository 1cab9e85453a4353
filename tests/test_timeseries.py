"""companion.timeseries: splits in time order, windows, train-only scaling, the baselines."""

import numpy as np
import pytest

from companion import timeseries as ts


@pytest.fixture
def y():
    return np.arange(30, dtype=float) ** 1.5 + np.sin(np.arange(30))


def test_sunspots_loads_offline():
    years, y = ts.load_sunspots()
    assert years.shape == y.shape == (309,)
    assert years[0] == 1700 and years[-1] == 2008 and (y >= 0).all()


def test_split_is_in_time_order(y):
    train, val, test = ts.split_in_time(y, 5, 7)
    assert (len(train), len(val), len(test)) == (18, 5, 7)
    np.testing.assert_array_equal(np.concatenate([train, val, test]), y)
    with pytest.raises(ValueError, match="cannot give"):
        ts.split_in_time(y, 20, 10)


def test_scaling_uses_the_training_span_only(y):
    train, test = y[:20], y[20:]
    tr_s, te_s, mean, std = ts.scale_train_only(train, test)
    assert mean == pytest.approx(train.mean()) and std == pytest.approx(train.std())
    assert tr_s.mean() == pytest.approx(0) and tr_s.std() == pytest.approx(1)
    np.testing.assert_allclose(te_s, (test - train.mean()) / train.std())
    with pytest.raises(ValueError, match="constant"):
        ts.scale_train_only(np.ones(5))


def test_windows_and_targets(y):
    X, t = ts.make_windows(y, 4)
    assert X.shape == (26, 4) and t.shape == (26,)
    for i in (0, 11, 25):
        np.testing.assert_array_equal(X[i], y[i : i + 4])
        assert t[i] == y[i + 4]
    x, tt = ts.windows_for_targets(y, 4, 10, 15)
    assert x.shape == (4, 5, 1) and tt.shape == (5, 1)
    np.testing.assert_array_equal(x[:, 0, 0], y[6:10])
    np.testing.assert_array_equal(tt[:, 0], y[10:15])
    with pytest.raises(ValueError, match="width"):
        ts.make_windows(y, 30)


def test_naive_and_seasonal_naive(y):
    np.testing.assert_array_equal(ts.naive(y, 20), y[19:-1])
    np.testing.assert_array_equal(ts.seasonal_naive_one_step(y, 5, 20), y[15:25])
    np.testing.assert_array_equal(ts.seasonal_naive(y, 3, 7), y[[27, 28, 29, 27, 28, 29, 27]])
    # one step ahead from every prefix is the same as the one-step helper
    one = [ts.seasonal_naive(y[:t], 5, 1)[0] for t in range(20, 30)]
    np.testing.assert_array_equal(one, ts.seasonal_naive_one_step(y, 5, 20))
    with pytest.raises(ValueError, match="horizon"):
        ts.seasonal_naive(y, 3, 0)


def test_ar_recovers_a_known_process():
    rng = np.random.default_rng(0)
    y = np.zeros(5000)
    for t in range(2, len(y)):
        y[t] = 1.0 + 0.6 * y[t - 1] - 0.3 * y[t - 2] + 0.1 * rng.standard_normal()
    coef = ts.ar_fit(y, 2)
    np.testing.assert_allclose(coef, [1.0, 0.6, -0.3], atol=0.02)
    pred = ts.ar_predict(y, coef, 100)
    np.testing.assert_allclose(pred[:3], coef[0] + coef[1] * y[99:102] + coef[2] * y[98:101])


def test_ar_matches_statsmodels():
    from statsmodels.regression.linear_model import OLS

    _, y = ts.load_sunspots()
    coef = ts.ar_fit(y[:200], 3)
    X, t = ts.make_windows(y[:200], 3)
    ref = OLS(t, np.column_stack([np.ones(len(t)), X[:, ::-1]])).fit().params
    np.testing.assert_allclose(coef, ref, rtol=1e-8)


def test_errors():
    assert ts.rmse([1.0, 3.0], [1.0, 1.0]) == pytest.approx(np.sqrt(2))
    assert ts.mae([1.0, 3.0], [1.0, 1.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        ts.rmse([1.0], [1.0, 2.0])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda y: ts.make_windows(y, True), TypeError, "width must be an integer; got bool"),
        (lambda y: ts.make_windows(y, 2.0), TypeError, "width must be an integer; got float"),
        (lambda y: ts.make_windows(y, 0), ValueError, r"width must be an integer in \[1, 29\]"),
        (lambda y: ts.split_in_time(y, -1, 5), ValueError, "n_val must be"),
        (lambda y: ts.split_in_time(y, 5, 0), ValueError, "n_test must be a positive integer"),
        (lambda y: ts.split_in_time(y, 20, 20), ValueError, "cannot give 20 \\+ 20"),
        (lambda y: ts.seasonal_naive(y, np.int64(31), 2), ValueError, r"season .*\[1, 30\]"),
        (lambda y: ts.seasonal_naive_one_step(y, 5, 3), ValueError, r"start .*\[5, 29\]"),
        (lambda y: ts.naive(y, 0), ValueError, r"start must be an integer in \[1, 29\]"),
        (lambda y: ts.ar_fit(y, 29), ValueError, r"p must be an integer in \[1, 28\]"),
        (lambda y: ts.ar_predict(y, np.ones(4), 2), ValueError, r"start .*\[3, 29\]"),
    ],
)
def test_bad_integers(y, call, error, match):
    with pytest.raises(error, match=match):
        call(y)
