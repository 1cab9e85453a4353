"""The chapter 8 exercise checks accept right answers and reject wrong ones."""

import numpy as np
import pytest

from companion.exercises import ExerciseCheckFailed, ch08


def not_implemented(*args):
    raise NotImplementedError


# --- check_stable_sigmoid -------------------------------------------------------------------


def sigmoid_tanh(a):
    return 0.5 * np.tanh(0.5 * a) + 0.5


def sigmoid_branch(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def test_stable_sigmoid_accepts_both_stable_forms(capsys):
    ch08.check_stable_sigmoid(sigmoid_tanh)
    ch08.check_stable_sigmoid(sigmoid_branch)
    assert "All 5 cases passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda a: 1 / (1 + np.exp(-a)), "FloatingPointError"),  # overflows for a = -100
        (lambda a: (0.5 * np.tanh(0.5 * a) + 0.5).astype(np.float64), "returned dtype float64"),
        (lambda a: 0.5 * np.tanh(a) + 0.5, "values differ"),  # forgot the halving
        (lambda a: np.clip(0.25 * a + 0.5, 0, 1), "values differ"),  # a linear approximation
        (not_implemented, "not implemented yet"),
    ],
)
def test_stable_sigmoid_rejects(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch08.check_stable_sigmoid(wrong)


# --- check_weight_gradients -----------------------------------------------------------------


def weight_gradients(dA, x, h_prev):
    T, B, GH = dA.shape
    dA2 = dA.reshape(T * B, GH)
    return (
        dA2.T @ x.reshape(T * B, -1),
        dA2.T @ h_prev.reshape(T * B, -1),
        dA2.sum(axis=0),
    )


def test_weight_gradients_accepts_one_product_and_the_loop():
    ch08.check_weight_gradients(weight_gradients)

    def loop(dA, x, h_prev):
        return (
            sum(dA[t].T @ x[t] for t in range(len(dA))),
            sum(dA[t].T @ h_prev[t] for t in range(len(dA))),
            dA.sum(axis=(0, 1)),
        )

    ch08.check_weight_gradients(loop)


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda dA, x, h: weight_gradients(dA, x, h)[::-1], "shape"),  # wrong order
        (
            lambda dA, x, h: weight_gradients(dA[:-1], x[1:], h[:-1]),
            "values differ|shape",
        ),  # off by one
        (
            lambda dA, x, h: (*weight_gradients(dA, x, h)[:2], dA.sum(axis=0)),
            "shape",
        ),  # db per example
        (lambda dA, x, h: tuple(g / len(dA) for g in weight_gradients(dA, x, h)), "values differ"),
    ],
)
def test_weight_gradients_rejects(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch08.check_weight_gradients(wrong)


# --- check_layer_flops ----------------------------------------------------------------------

BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


def test_layer_flops_accepts_the_count():
    ch08.check_layer_flops(lambda family, B, T, D, H: 6 * BLOCKS[family] * H * (D + H) * B * T)


@pytest.mark.parametrize(
    "wrong",
    [
        lambda family, B, T, D, H: 2 * BLOCKS[family] * H * (D + H) * B * T,  # forward only
        lambda family, B, T, D, H: 4 * BLOCKS[family] * H * (D + H) * B * T,  # backward once
        lambda family, B, T, D, H: 6 * 4 * H * (D + H) * B * T,  # every cell an LSTM
        lambda family, B, T, D, H: 3 * BLOCKS[family] * H * (D + H) * B * T,  # multiply-adds
    ],
)
def test_layer_flops_rejects(wrong):
    with pytest.raises(ExerciseCheckFailed, match="value differs"):
        ch08.check_layer_flops(wrong)


# --- check_gru_factors ----------------------------------------------------------------------


def gru_factors(r, z, n, ghn, h_prev):
    Q_n = (1 - z) * (1 - n**2)
    return Q_n * ghn * r * (1 - r), (h_prev - n) * z * (1 - z), Q_n, Q_n * r


def test_gru_factors_accepts_the_derivation():
    ch08.check_gru_factors(gru_factors)


@pytest.mark.parametrize(
    "wrong",
    [
        lambda r, z, n, g, h: (
            gru_factors(r, z, n, g, h)[0],
            (n - h) * z * (1 - z),
            *gru_factors(r, z, n, g, h)[2:],
        ),  # chung's sign
        lambda r, z, n, g, h: (
            *gru_factors(r, z, n, g, h)[:2],
            (1 - n**2),
            gru_factors(r, z, n, g, h)[3],
        ),  # no (1 - z)
        lambda r, z, n, g, h: (
            (1 - z) * (1 - n**2) * g,
            *gru_factors(r, z, n, g, h)[1:],
        ),  # no sigma'
        lambda r, z, n, g, h: (
            *gru_factors(r, z, n, g, h)[:3],
            (1 - z) * (1 - n**2),
        ),  # dghn without r
    ],
)
def test_gru_factors_rejects(wrong):
    with pytest.raises(ExerciseCheckFailed, match="values differ"):
        ch08.check_gru_factors(wrong)
