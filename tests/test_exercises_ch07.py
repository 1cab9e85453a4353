"""The chapter 7 exercise checks accept right answers and reject wrong ones."""

import numpy as np
import pytest

from companion import timeseries as ts
from companion.exercises import ExerciseCheckFailed, ch07


def not_implemented(*args):
    raise NotImplementedError


# --- check_seasonal_naive -----------------------------------------------------------------


def seasonal_right(y, season, horizon):
    return np.array([y[len(y) - season + (h - 1) % season] for h in range(1, horizon + 1)])


@pytest.mark.parametrize("right", [seasonal_right])
def test_seasonal_naive_check_accepts_right_answers(capsys, right):
    ch07.check_seasonal_naive(right)
    assert "All 4 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda y, m, h: np.repeat(y[-1], h), "3 of 4 cases failed"),  # naive
        (lambda y, m, h: y[-m:][:h], "FAIL"),  # no repetition past one season
        (lambda y, m, h: np.resize(y[-m:][::-1], h), "FAIL"),  # the season reversed
        (lambda y, m, h: list(seasonal_right(y, m, h)), "expected a numpy array"),
        (not_implemented, "not implemented"),
    ],
)
def test_seasonal_naive_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch07.check_seasonal_naive(wrong)


# --- check_make_windows -------------------------------------------------------------------


def windows_right(y, width):
    X = np.array([y[i : i + width] for i in range(len(y) - width)])
    return X, y[width:]


@pytest.mark.parametrize("right", [windows_right])
def test_windows_check_accepts_right_answers(capsys, right):
    ch07.check_make_windows(right)
    assert "All 3 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        # the target inside its window: t[i] = y[i + width - 1]
        (lambda y, w: (windows_right(y, w)[0], y[w - 1 : -1]), "3 of 3 cases failed"),
        # one window too few
        (lambda y, w: tuple(a[:-1] for a in windows_right(y, w)), "3 of 3 cases failed"),
        (lambda y, w: windows_right(y, w)[0], "expected a tuple"),
        (not_implemented, "not implemented"),
    ],
)
def test_windows_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch07.check_make_windows(wrong)


# --- check_scale_train_only ---------------------------------------------------------------


def scale_right(train, test):
    return (train - train.mean()) / train.std(), (test - train.mean()) / train.std()


def scale_each(train, test):
    return (train - train.mean()) / train.std(), (test - test.mean()) / test.std()


def scale_all(train, test):
    both = np.concatenate([train, test])
    return (train - both.mean()) / both.std(), (test - both.mean()) / both.std()


def scale_in_place(train, test):
    mean, std = train.mean(), train.std()
    train -= mean
    train /= std
    return train, (test - mean) / std


@pytest.mark.parametrize("right", [scale_right])
def test_scale_check_accepts_right_answers(capsys, right):
    ch07.check_scale_train_only(right)
    assert "All 3 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (scale_each, "3 of 3 cases failed"),  # the test span's own statistics: a leak
        (scale_all, "3 of 3 cases failed"),  # statistics of both spans: a leak
        (lambda a, b: tuple(x * a.std() / a.std(ddof=1) for x in scale_right(a, b)), "FAIL"),
        (scale_in_place, "modified its input argument 0"),
        (not_implemented, "not implemented"),
    ],
)
def test_scale_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch07.check_scale_train_only(wrong)


def test_scale_hint_names_the_leak():
    with pytest.raises(ExerciseCheckFailed, match="leak the future"):
        ch07.check_scale_train_only(scale_all)


# --- check_ar_fit -------------------------------------------------------------------------


def ar_right(y, p):
    rows = np.array([[1.0, *y[t - p : t][::-1]] for t in range(p, len(y))])
    return np.linalg.lstsq(rows, y[p:], rcond=None)[0]


def ar_oldest_first(y, p):
    rows = np.array([[1.0, *y[t - p : t]] for t in range(p, len(y))])
    return np.linalg.lstsq(rows, y[p:], rcond=None)[0]


def ar_no_intercept(y, p):
    rows = np.array([[*y[t - p : t][::-1]] for t in range(p, len(y))])
    return np.concatenate([[0.0], np.linalg.lstsq(rows, y[p:], rcond=None)[0]])


@pytest.mark.parametrize("right", [ar_right])
def test_ar_check_accepts_right_answers(capsys, right):
    ch07.check_ar_fit(right)
    assert "All 3 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (ar_oldest_first, "2 of 3 cases failed"),  # AR(1) is the same either way
        (ar_no_intercept, "3 of 3 cases failed"),
        (lambda y, p: ar_right(y, p)[1:], "shape"),
        (not_implemented, "not implemented"),
    ],
)
def test_ar_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch07.check_ar_fit(wrong)


@pytest.mark.parametrize(
    "check, delegating, called",
    [
        (ch07.check_seasonal_naive, ts.seasonal_naive, "seasonal_naive"),
        (ch07.check_make_windows, ts.make_windows, "make_windows"),
        (
            ch07.check_scale_train_only,
            lambda a, b: ts.scale_train_only(a, b)[:2],
            "scale_train_only",
        ),
        (ch07.check_ar_fit, ts.ar_fit, "ar_fit"),
    ],
)
def test_the_companions_own_function_fails_and_says_why(check, delegating, called):
    message = f"your function called companion.timeseries.{called}, which is what this exercise"
    with pytest.raises(ExerciseCheckFailed, match=message):
        check(delegating)
