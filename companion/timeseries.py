"""Data helpers and baselines for forecasting a real series one step ahead.

The series is split in time order, never shuffled: the model is fitted on the past and scored
on the future, as it would be used::

    train = y[:n_train]   validation = y[n_train:n_train + n_val]   test = the rest
    scaled = (y - mean(train)) / std(train)          statistics of the training span only
    window i: x = y[i : i + width], target y[i + width]          (many-to-one)

Every forecaster here is one-step-ahead: the forecast of y_t may use y_0..y_{t-1}, the true
values, and nothing later. The baselines are

    naive            y_hat_t = y_{t-1}
    seasonal naive   y_hat_t = y_{t-m}                       m the season (about 11 for sunspots)
    autoregressive   y_hat_t = c + phi_1 y_{t-1} + ... + phi_p y_{t-p}, fitted by least squares

Arrays are numpy float64; the recurrent models take windows time-major, x (T, B, 1), as every
``companion`` model. This module imports neither torch nor matplotlib; ``load_sunspots`` needs
statsmodels, which ships the data set (no download).
"""

from __future__ import annotations

import numpy as np

from companion import checks


def load_sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Yearly mean sunspot numbers 1700 to 2008 from ``statsmodels.datasets.sunspots``.

    Returns ``(years, y)``, both of shape (309,); ``years`` are integers. The solar cycle makes
    the series roughly periodic with a period of about 11 years (9 to 14 from cycle to cycle).
    """
    from statsmodels.datasets import sunspots

    data = sunspots.load_pandas().data
    return data["YEAR"].to_numpy().astype(int), data["SUNACTIVITY"].to_numpy(dtype=np.float64)


def split_in_time(y, n_val: int, n_test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``y`` (N,) into train, validation and test spans, in that order in time."""
    y = _series(y)
    n_val, n_test = checks.integer("n_val", n_val, 0), checks.positive_int("n_test", n_test)
    n_train = len(y) - n_val - n_test
    if n_train < 1:
        raise ValueError(f"a series of {len(y)} cannot give {n_val} + {n_test} and a train span")
    return y[:n_train], y[n_train : n_train + n_val], y[n_train + n_val :]


def scale_train_only(train, *others) -> tuple[np.ndarray, ...]:
    """Standardise with the mean and standard deviation of ``train`` alone.

    Returns ``(train_scaled, *others_scaled, mean, std)``. Using statistics of the validation
    or test spans would leak the future into the inputs.
    """
    train = _series(train, "train")
    mean, std = float(train.mean()), float(train.std())
    if std == 0:
        raise ValueError("the training span is constant; its standard deviation is 0")
    scaled = [(a - mean) / std for a in (train, *(_series(o, "other") for o in others))]
    return (*scaled, mean, std)


def make_windows(y, width: int) -> tuple[np.ndarray, np.ndarray]:
    """All windows of ``width`` consecutive values and the value that follows each.

    Returns ``X`` (N - width, width) with ``X[i] = y[i : i + width]`` and ``t`` (N - width,)
    with ``t[i] = y[i + width]``.
    """
    y = _series(y)
    width = _index("width", width, 1, len(y) - 1)
    X = np.lib.stride_tricks.sliding_window_view(y[:-1], width).copy()  # (N - width, width)
    return X, y[width:].copy()


def windows_for_targets(y, width: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """The windows of ``make_windows(y, width)`` whose target index lies in [start, stop).

    Returns ``x`` time-major (width, B, 1), ready for a recurrent model, and ``t`` (B, 1).
    A window may reach back before ``start``: its inputs are the past, which is allowed.
    """
    X, t = make_windows(y, width)
    lo, hi = max(start, width) - width, stop - width
    if hi <= lo:
        raise ValueError(f"no target in [{start}, {stop}) has a full window of {width}")
    return X[lo:hi].T[:, :, None].copy(), t[lo:hi, None].copy()


def naive(y, start: int) -> np.ndarray:
    """One-step naive forecasts of ``y[start:]``: y_hat_t = y_{t-1}."""
    y = _series(y)
    start = _index("start", start, 1, len(y) - 1)
    return y[start - 1 : -1].copy()


def seasonal_naive(y, season: int, horizon: int) -> np.ndarray:
    """Forecast the ``horizon`` values after the end of ``y`` by repeating its last season.

    y_hat_{N+h} = y_{N+h-m(k+1)} for h = 1..horizon, k = (h - 1) // m, m = ``season``: the last
    ``season`` values repeated. With ``horizon=1`` on ``y[:t]`` it is the one-step forecast
    y_hat_t = y_{t-m}.
    """
    y = _series(y)
    season, horizon = _index("season", season, 1, len(y)), checks.positive_int("horizon", horizon)
    last = y[-season:]
    return last[np.arange(horizon) % season].copy()


def seasonal_naive_one_step(y, season: int, start: int) -> np.ndarray:
    """One-step seasonal-naive forecasts of ``y[start:]``: y_hat_t = y_{t-m}."""
    y = _series(y)
    season = _index("season", season, 1, len(y))
    start = _index("start", start, season, len(y) - 1)
    return y[start - season : len(y) - season].copy()


def ar_fit(y, p: int) -> np.ndarray:
    """Least-squares coefficients of an AR(p) model with intercept fitted on ``y`` (N,).

    Returns ``coef`` (p + 1,) = (c, phi_1, ..., phi_p) minimising
    sum_t (y_t - c - phi_1 y_{t-1} - ... - phi_p y_{t-p})^2 over t = p..N-1.
    """
    y = _series(y)
    p = _index("p", p, 1, len(y) - 2)
    X, t = make_windows(y, p)  # X[i] = y_{i..i+p-1}, t[i] = y_{i+p}
    A = np.column_stack([np.ones(len(t)), X[:, ::-1]])  # columns 1, y_{t-1}, ..., y_{t-p}
    coef, *_ = np.linalg.lstsq(A, t, rcond=None)
    return coef


def ar_predict(y, coef, start: int) -> np.ndarray:
    """One-step AR forecasts of ``y[start:]`` with ``coef`` = (c, phi_1, ..., phi_p)."""
    y, coef = _series(y), _series(coef, "coef")
    p = len(coef) - 1
    start = _index("start", start, p, len(y) - 1)
    X, _ = make_windows(y, p)
    return coef[0] + X[start - p :, ::-1] @ coef[1:]


def rmse(y_hat, y) -> float:
    """Root mean squared error between two arrays of one shape."""
    y_hat, y = np.asarray(y_hat, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if y_hat.shape != y.shape:
        raise ValueError(f"shapes differ: {y_hat.shape} and {y.shape}")
    return float(np.sqrt(np.mean((y_hat - y) ** 2)))


def mae(y_hat, y) -> float:
    """Mean absolute error between two arrays of one shape."""
    y_hat, y = np.asarray(y_hat, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if y_hat.shape != y.shape:
        raise ValueError(f"shapes differ: {y_hat.shape} and {y.shape}")
    return float(np.mean(np.abs(y_hat - y)))


def _series(y, name: str = "series") -> np.ndarray:
    a = np.asarray(y, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, shape (N,); got shape {a.shape}")
    return a


def _index(name: str, v: object, low: int, high: int) -> int:
    """``v`` as an ``int`` if it is an integer in [low, high]."""
    v = checks.integer(name, v)
    if not low <= v <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}]; got {v}")
    return v
