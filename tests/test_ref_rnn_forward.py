"""The numpy Elman RNN equals torch.nn.RNN, and rejects bad input with clear errors."""

import numpy as np
import pytest
import torch

from companion.interop import params_from_torch
from companion.ref import rnn

SHAPES = [  # (T, B, D, H)
    (1, 1, 1, 1),
    (1, 3, 2, 4),
    (5, 1, 3, 1),
    (7, 2, 3, 5),
    (20, 4, 6, 8),
]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}-B{}-D{}-H{}".format(*s))
def test_forward_matches_torch_rnn(shape, nonlinearity):
    T, B, D, H = shape
    torch.manual_seed(sum(shape))
    module = torch.nn.RNN(D, H, nonlinearity=nonlinearity).double()
    params = params_from_torch(module)
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))

    h_seq, h_T, _ = rnn.forward(x, h0, params, nonlinearity=nonlinearity)
    with torch.no_grad():
        out, h_n = module(torch.from_numpy(x), torch.from_numpy(h0)[None])

    assert h_seq.shape == (T, B, H) and h_T.shape == (B, H)
    np.testing.assert_allclose(h_seq, out.numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(h_T, h_n[0].numpy(), rtol=1e-6, atol=1e-12)


def test_zero_initial_state_is_the_default():
    rng = np.random.default_rng(0)
    params = rnn.init_params(3, 4, rng)
    x = rng.standard_normal((6, 2, 3))
    a, _, _ = rnn.forward(x, None, params)
    b, _, _ = rnn.forward(x, np.zeros((2, 4)), params)
    np.testing.assert_array_equal(a, b)


def test_step_equals_one_step_of_forward():
    rng = np.random.default_rng(1)
    params = rnn.init_params(3, 4, rng)
    x = rng.standard_normal((1, 2, 3))
    h0 = rng.standard_normal((2, 4))
    h_seq, _, _ = rnn.forward(x, h0, params)
    np.testing.assert_allclose(rnn.step(x[0], h0, params), h_seq[0])


def test_forward_keeps_float32():
    rng = np.random.default_rng(2)
    params = rnn.init_params(3, 4, rng, dtype=np.float32)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    h_seq, h_T, _ = rnn.forward(x, None, params)
    assert h_seq.dtype == np.float32 and h_T.dtype == np.float32


def test_forward_does_not_modify_inputs():
    rng = np.random.default_rng(3)
    params = rnn.init_params(3, 4, rng)
    x = rng.standard_normal((5, 2, 3))
    h0 = rng.standard_normal((2, 4))
    copies = (x.copy(), h0.copy(), {k: v.copy() for k, v in params.items()})
    rnn.forward(x, h0, params)
    np.testing.assert_array_equal(x, copies[0])
    np.testing.assert_array_equal(h0, copies[1])
    for k in params:
        np.testing.assert_array_equal(params[k], copies[2][k])


def test_init_params_shapes_and_range():
    params = rnn.init_params(3, 16, np.random.default_rng(0))
    assert {k: v.shape for k, v in params.items()} == {
        "W_ih": (16, 3),
        "W_hh": (16, 16),
        "b_ih": (16,),
        "b_hh": (16,),
    }
    assert all(np.abs(v).max() <= 0.25 for v in params.values())


# ---------------------------------------------------------------- bad input


@pytest.fixture
def good():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 5)), rnn.init_params(3, 5, rng)


def test_x_with_two_dimensions(good):
    x, h0, params = good
    with pytest.raises(ValueError, match=r"shape \(T, B, D\).*got 2 dimension"):
        rnn.forward(x[0], h0, params)


def test_x_as_a_list(good):
    x, h0, params = good
    with pytest.raises(TypeError, match="numpy array.*got list"):
        rnn.forward(x.tolist(), h0, params)


def test_integer_x(good):
    _, h0, params = good
    with pytest.raises(TypeError, match="floating dtype.*got dtype int64"):
        rnn.forward(np.ones((4, 2, 3), dtype=np.int64), h0, params)


def test_state_with_wrong_batch(good):
    x, _, params = good
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, H\) = \(2, 5\); got \(3, 5\)"):
        rnn.forward(x, np.zeros((3, 5)), params)


def test_input_size_mismatch(good):
    x, h0, params = good
    with pytest.raises(ValueError, match=r"params\['W_ih'\].*shape \(5, 4\); got \(5, 3\)"):
        rnn.forward(np.zeros((4, 2, 4)), h0, params)


def test_missing_parameter(good):
    x, h0, params = good
    del params["b_hh"]
    with pytest.raises(ValueError, match=r"missing \['b_hh'\]"):
        rnn.forward(x, h0, params)


def test_misshaped_bias(good):
    x, h0, params = good
    params["b_ih"] = params["b_ih"][:, None]
    with pytest.raises(ValueError, match=r"params\['b_ih'\].*shape \(5,\); got \(5, 1\)"):
        rnn.forward(x, h0, params)


def test_non_square_W_hh(good):
    x, h0, params = good
    params["W_hh"] = np.zeros((5, 4))
    with pytest.raises(ValueError, match=r"W_hh'\] for rnn must have shape \(1\*H, H\)"):
        rnn.forward(x, h0, params)


def test_mixed_dtypes(good):
    x, h0, params = good
    with pytest.raises(TypeError, match="share one floating dtype"):
        rnn.forward(x.astype(np.float32), h0, params)


def test_unknown_nonlinearity(good):
    x, h0, params = good
    with pytest.raises(ValueError, match=r"nonlinearity must be one of \('tanh', 'relu'\)"):
        rnn.forward(x, h0, params, nonlinearity="sigmoid")


def test_params_not_a_dict(good):
    x, h0, params = good
    with pytest.raises(TypeError, match="params must be a dict"):
        rnn.forward(x, h0, list(params.values()))


def test_empty_sequence(good):
    _, h0, params = good
    with pytest.raises(ValueError, match=r"T, B, D >= 1; got shape \(0, 2, 3\)"):
        rnn.forward(np.zeros((0, 2, 3)), h0, params)


def test_step_rejects_a_sequence(good):
    x, h0, params = good
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, D\)"):
        rnn.step(x, h0, params)
