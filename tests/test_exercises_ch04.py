"""The chapter 4 exercise checks accept right answers and reject wrong ones."""

import numpy as np
import pytest

from companion.exercises import ExerciseCheckFailed, ch04
from companion.ref import lstm


def not_implemented(*args):
    raise NotImplementedError


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def split(a, order="ifgo"):
    """The four blocks of a (B, 4H) as a dict, read in the given order."""
    return dict(zip(order, np.split(a, 4, axis=1), strict=True))


# --- check_lstm_step ----------------------------------------------------------------------


def step_right(x_t, h_prev, c_prev, W_ih, W_hh, b, order="ifgo", tanh_h=True, input_gate=True):
    """A learner's step; the keyword switches introduce the usual mistakes."""
    a = split(x_t @ W_ih.T + h_prev @ W_hh.T + b, order)
    i, f, g, o = sigmoid(a["i"]), sigmoid(a["f"]), np.tanh(a["g"]), sigmoid(a["o"])
    c = f * c_prev + (i * g if input_gate else g)
    h = o * (np.tanh(c) if tanh_h else c)
    return h, c


def step_from_the_reference(x_t, h_prev, c_prev, W_ih, W_hh, b):
    params = {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b, "b_hh": np.zeros_like(b)}
    return lstm.step(x_t, (h_prev, c_prev), params)


def step_transposed(x_t, h_prev, c_prev, W_ih, W_hh, b):
    """h_prev @ W_hh, with the column-vector habit W_hh h: (B, H) @ (4H, H) does not fit."""
    a = split(x_t @ W_ih.T + h_prev @ W_hh + b)
    c = sigmoid(a["f"]) * c_prev + sigmoid(a["i"]) * np.tanh(a["g"])
    return sigmoid(a["o"]) * np.tanh(c), c


def step_in_place(x_t, h_prev, c_prev, W_ih, W_hh, b):
    """Right values, but the cell update is written into the caller's c_prev."""
    a = split(x_t @ W_ih.T + h_prev @ W_hh.T + b)
    c_prev *= sigmoid(a["f"])
    c_prev += sigmoid(a["i"]) * np.tanh(a["g"])
    return sigmoid(a["o"]) * np.tanh(c_prev), c_prev.copy()


def test_lstm_step_check_accepts_a_right_answer(capsys):
    ch04.check_lstm_step(step_right)
    assert "All 4 cases passed." in capsys.readouterr().out


def step_by_torch(x_t, h_prev, c_prev, W_ih, W_hh, b):
    import torch

    cell = torch.nn.LSTMCell(W_ih.shape[1], h_prev.shape[1]).double()
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(W_ih))
        cell.weight_hh.copy_(torch.tensor(W_hh))
        cell.bias_ih.copy_(torch.tensor(b))
        cell.bias_hh.zero_()
        h, c = cell(torch.tensor(x_t), (torch.tensor(h_prev), torch.tensor(c_prev)))
    return h.numpy(), c.numpy()


def step_backward_by_the_reference(dh, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b):
    params = {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b, "b_hh": np.zeros_like(b)}
    _, _, cache = lstm.forward(x_t[None], (h_prev, c_prev), params)
    dx, (dh_prev, dc_prev), g = lstm.backward(dh[None], (None, dc_next), cache)
    return dx[0], dh_prev, dc_prev, g["W_ih"], g["W_hh"], g["b_ih"]


DELEGATED = "your function called {}, which is what this exercise asks you to write by hand"


@pytest.mark.parametrize(
    "check, delegating, called",
    [
        (ch04.check_lstm_step, step_from_the_reference, "companion.ref.lstm.step"),
        (ch04.check_lstm_step, step_by_torch, "torch.nn.LSTMCell"),
        (ch04.check_lstm_param_count, lstm.count_params, "companion.ref.lstm.count_params"),
        (
            ch04.check_lstm_step_backward,
            step_backward_by_the_reference,
            "companion.ref.lstm.backward",
        ),
    ],
)
def test_delegating_to_the_reference_fails_and_says_why(check, delegating, called):
    with pytest.raises(ExerciseCheckFailed, match=DELEGATED.format(called)):
        check(delegating)


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda *a: step_right(*a, order="ifog"), "4 of 4 cases failed"),  # order i, f, o, g
        (lambda *a: step_right(*a, tanh_h=False), "item 0: values differ"),  # h = o * c
        (lambda *a: step_right(*a, input_gate=False), "4 of 4 cases failed"),  # c = f c + g
        (step_transposed, "raised ValueError"),
        (step_in_place, "modified its input argument 2"),
        (lambda *a: step_right(*a)[0], "expected a tuple of 2 values"),
        (not_implemented, "not implemented"),
    ],
)
def test_lstm_step_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch04.check_lstm_step(wrong)


def test_lstm_step_hint_names_the_gate_order():
    with pytest.raises(ExerciseCheckFailed, match="the order i, f, g, o"):
        ch04.check_lstm_step(lambda *a: step_right(*a, order="ifog"))


# --- check_lstm_param_count ---------------------------------------------------------------


def test_param_count_check_accepts_the_right_answer(capsys):
    ch04.check_lstm_param_count(lambda D, H: 4 * (H * (D + H) + 2 * H))
    assert "All 5 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong",
    [
        lambda D, H: 4 * (H * (D + H) + H),  # one bias vector
        lambda D, H: 3 * (H * (D + H) + 2 * H),  # three blocks (the GRU's count)
        lambda D, H: 4 * H * (D + H),  # no biases
        not_implemented,
    ],
)
def test_param_count_check_rejects_wrong_answers(wrong):
    with pytest.raises(ExerciseCheckFailed, match="two bias vectors"):
        ch04.check_lstm_param_count(wrong)


# --- check_cell_path_gradient -------------------------------------------------------------


def test_cell_path_check_accepts_the_product(capsys):
    ch04.check_cell_path_gradient(lambda f_seq: f_seq.prod(axis=0))
    assert "All 5 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda f: f.sum(axis=0), "values differ"),  # a sum, not a product
        (lambda f: f[1:].prod(axis=0), "FAIL  one step: the gradient is f_1"),  # skips f_1
        (lambda f: f[:-1].prod(axis=0), "FAIL  one step: the gradient is f_1"),  # skips f_T
        (lambda f: f.prod(axis=-1), "shape"),  # over the units, not over time
        (lambda f: f[-1], "FAIL  T=5"),  # the last gate only
        (not_implemented, "not implemented"),
    ],
)
def test_cell_path_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch04.check_cell_path_gradient(wrong)


def test_cell_path_reference_is_the_product_of_forget_gates():
    """The reference (lstm.backward with W_hh = 0 and a loss on c_T) is the product."""
    rng = np.random.default_rng(0)
    params = lstm.init_params(2, 3, rng, forget_bias=1.0)
    params["W_hh"][:] = 0.0
    _, _, cache = lstm.forward(rng.standard_normal((6, 2, 2)), None, params)
    _, (_, dc0), _ = lstm.backward(np.zeros((6, 2, 3)), (None, np.ones((2, 3))), cache)
    np.testing.assert_allclose(dc0, cache["gates"]["f"].prod(axis=0), rtol=1e-12)


# --- check_lstm_step_backward -------------------------------------------------------------


def step_backward_right(
    dh, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b, order="ifgo", dtanh=True, carry=True
):
    """A learner's one-step backward; the keyword switches introduce the usual mistakes."""
    a = split(x_t @ W_ih.T + h_prev @ W_hh.T + b, order)
    i, f, g, o = sigmoid(a["i"]), sigmoid(a["f"]), np.tanh(a["g"]), sigmoid(a["o"])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    do = dh * tanh_c
    dc = dh * o * ((1 - tanh_c**2) if dtanh else 1.0) + (dc_next if carry else 0.0)
    da_blocks = {
        "i": dc * g * i * (1 - i),
        "f": dc * c_prev * f * (1 - f),
        "g": dc * i * (1 - g**2),
        "o": do * o * (1 - o),
    }
    da = np.concatenate([da_blocks[k] for k in order], axis=1)
    return da @ W_ih, da @ W_hh, dc * f, da.T @ x_t, da.T @ h_prev, da.sum(axis=0)


@pytest.mark.parametrize("right", [step_backward_right])
def test_step_backward_check_accepts_the_right_answer(capsys, right):
    ch04.check_lstm_step_backward(right)
    assert "All 6 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, passing",
    [
        (lambda *a: step_backward_right(*a, dtanh=False), "no gradient reaching h_t"),
        (lambda *a: step_backward_right(*a, carry=False), "no gradient from step t+1"),
    ],
)
def test_a_missing_term_fails_every_case_but_the_one_without_it(wrong, passing):
    with pytest.raises(ExerciseCheckFailed) as info:
        ch04.check_lstm_step_backward(wrong)
    report = str(info.value)
    assert "5 of 6 cases failed" in report
    assert f"pass  {passing}" in report
    assert "(both terms)" in report  # the hint


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (lambda *a: step_backward_right(*a, order="ifog"), "6 of 6 cases failed"),
        (lambda *a: step_backward_right(*a)[:5], "expected a tuple of 6 values"),
        (not_implemented, "not implemented"),
    ],
)
def test_step_backward_check_rejects_wrong_answers(wrong, reason):
    with pytest.raises(ExerciseCheckFailed, match=reason):
        ch04.check_lstm_step_backward(wrong)
