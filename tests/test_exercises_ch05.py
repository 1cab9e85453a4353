"""The chapter 5 exercise checks accept right answers and reject wrong ones."""

import numpy as np
import pytest

from companion.exercises import ExerciseCheckFailed, ch05
from companion.ref import gru


def not_implemented(*args):
    raise NotImplementedError


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def split(a, order="rzn"):
    """The three blocks of a (B, 3H) as a dict, read in the given order."""
    return dict(zip(order, np.split(a, 3, axis=1), strict=True))


# --- check_gru_step -----------------------------------------------------------------------


def step_right(
    x_t, h_prev, W_ih, W_hh, b_ih, b_hh, order="rzn", swap=False, before=False, outside=False
):
    """A learner's step; the keyword switches introduce the usual mistakes."""
    H = h_prev.shape[1]
    ax = split(x_t @ W_ih.T + b_ih, order)
    ah = split(h_prev @ W_hh.T + b_hh, order)
    r, z = sigmoid(ax["r"] + ah["r"]), sigmoid(ax["z"] + ah["z"])
    W_hn, b_hn = W_hh[2 * H :], b_hh[2 * H :]
    if before:  # the reset applied to h_prev before the product (Cho et al.)
        n = np.tanh(ax["n"] + (r * h_prev) @ W_hn.T + b_hn)
    elif outside:  # one bias b = b_ih + b_hh, so b_hn outside the reset product
        n = np.tanh(ax["n"] + b_hn + r * (h_prev @ W_hn.T))
    else:
        n = np.tanh(ax["n"] + r * ah["n"])
    if swap:  # z and 1 - z swapped (the Chung et al. convention with torch's weights)
        return z * n + (1 - z) * h_prev
    return (1 - z) * n + z * h_prev


def step_from_the_reference(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    params = {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b_ih, "b_hh": b_hh}
    return gru.step(x_t, h_prev, params)


def step_in_place(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    """Right values, but the new state is written into the caller's h_prev."""
    h = step_right(x_t, h_prev, W_ih, W_hh, b_ih, b_hh)
    h_prev[:] = h
    return h


def test_gru_step_check_accepts_a_right_answer(capsys):
    ch05.check_gru_step(step_right)
    assert "All 4 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda *a: step_right(*a, swap=True), "4 of 4 cases failed"),
        (lambda *a: step_right(*a, before=True), "4 of 4 cases failed"),
        (lambda *a: step_right(*a, outside=True), "4 of 4 cases failed"),
        (lambda *a: step_right(*a, order="zrn"), "4 of 4 cases failed"),
        (step_in_place, "modified its input argument 1"),
        (lambda *a: (step_right(*a), None), "expected a numpy array"),
        (not_implemented, "not implemented"),
    ],
)
def test_gru_step_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch05.check_gru_step(wrong)


def test_gru_step_hint_names_the_convention():
    with pytest.raises(ExerciseCheckFailed, match="z keeps the old state"):
        ch05.check_gru_step(lambda *a: step_right(*a, swap=True))


# --- check_gru_param_count ----------------------------------------------------------------


def test_param_count_check_accepts_the_right_answer(capsys):
    ch05.check_gru_param_count(lambda D, H: 3 * (H * (D + H) + 2 * H))
    assert "All 5 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong",
    [
        lambda D, H: 3 * (H * (D + H) + H),  # one bias vector
        lambda D, H: 4 * (H * (D + H) + 2 * H),  # four blocks (the LSTM's count)
        lambda D, H: 3 * H * (D + H),  # no biases
        not_implemented,
    ],
)
def test_param_count_check_rejects_wrong_answers(wrong):
    with pytest.raises(ExerciseCheckFailed, match="two bias vectors"):
        ch05.check_gru_param_count(wrong)


# --- check_flip_update --------------------------------------------------------------------


def flip(params, blocks=(1,), keys=("W_ih", "W_hh", "b_ih", "b_hh")):
    """Negate the given blocks (0 r, 1 z, 2 n) of the given arrays, on copies."""
    H = params["W_hh"].shape[1]
    out = {k: v.copy() for k, v in params.items()}
    for k in keys:
        for j in blocks:
            out[k][j * H : (j + 1) * H] *= -1
    return out


def flip_in_place(params):
    H = params["W_hh"].shape[1]
    for v in params.values():
        v[H : 2 * H] *= -1
    return params


def flip_one_bias(params):
    """Functionally right too: the z bias is the sum b_iz + b_hz, moved into b_ih."""
    H = params["W_hh"].shape[1]
    out = flip(params, keys=("W_ih", "W_hh"))
    out["b_ih"][H : 2 * H] = -(params["b_ih"][H : 2 * H] + params["b_hh"][H : 2 * H])
    out["b_hh"][H : 2 * H] = 0.0
    return out


@pytest.mark.parametrize("right", [flip, flip_one_bias])
def test_flip_check_accepts_right_answers(capsys, right):
    ch05.check_flip_update(right)
    assert "All 4 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda p: flip(p, keys=("W_ih", "W_hh")), "4 of 4 cases failed"),  # weights only
        (lambda p: flip(p, blocks=(0,)), "4 of 4 cases failed"),  # the r block
        (lambda p: dict(p), "4 of 4 cases failed"),  # no flip at all
        (flip_in_place, "raised InputModified: params\\['W_ih'\\] was changed in place"),
        (lambda p: tuple(flip(p).values()), "expected a dict"),
        (not_implemented, "not implemented"),
    ],
)
def test_flip_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch05.check_flip_update(wrong)


def test_flip_hint_says_weights_and_biases():
    with pytest.raises(ExerciseCheckFailed, match="weights and biases"):
        ch05.check_flip_update(lambda p: flip(p, keys=("W_ih", "W_hh")))


# --- check_copy_state ---------------------------------------------------------------------


def copier(D, H, z_bias=20.0, block=1, z_weight=0.0):
    W_ih, W_hh = np.zeros((3 * H, D)), np.zeros((3 * H, H))
    b_ih, b_hh = np.zeros(3 * H), np.zeros(3 * H)
    W_ih[H : 2 * H] = z_weight
    b_ih[block * H : (block + 1) * H] = z_bias
    return W_ih, W_hh, b_ih, b_hh


@pytest.mark.parametrize(
    "right", [copier, lambda D, H: copier(D, H, z_bias=1e3), lambda D, H: list(copier(D, H))]
)
def test_copy_state_check_accepts_right_answers(capsys, right):
    ch05.check_copy_state(right)
    assert "All 3 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda D, H: copier(D, H, z_bias=-20.0), "3 of 3 cases failed"),  # Chung's sign
        (lambda D, H: copier(D, H, z_bias=3.0), "3 of 3 cases failed"),  # not saturated
        (lambda D, H: copier(D, H, block=0), "3 of 3 cases failed"),  # the r block
        (lambda D, H: copier(D, H, z_weight=30.0), "FAIL"),  # the input moves z
        (lambda D, H: copier(D, H)[:3], "expected a tuple"),
        (not_implemented, "not implemented"),
    ],
)
def test_copy_state_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch05.check_copy_state(wrong)


def test_copy_state_hint_says_positive():
    with pytest.raises(ExerciseCheckFailed, match="POSITIVE z bias"):
        ch05.check_copy_state(lambda D, H: copier(D, H, z_bias=-20.0))


DELEGATED = "your function called {}, which is what this exercise asks you to write by hand"


@pytest.mark.parametrize(
    "check, delegating, called",
    [
        (ch05.check_gru_step, step_from_the_reference, "companion.ref.gru.step"),
        (
            ch05.check_flip_update,
            gru.flip_update_convention,
            "companion.ref.gru.flip_update_convention",
        ),
        (ch05.check_gru_param_count, gru.count_params, "companion.ref.gru.count_params"),
    ],
)
def test_delegating_to_the_reference_fails_and_says_why(check, delegating, called):
    with pytest.raises(ExerciseCheckFailed, match=DELEGATED.format(called)):
        check(delegating)
