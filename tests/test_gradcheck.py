"""The finite-difference tools themselves: right on known gradients, and strict on input."""

import numpy as np
import pytest

from companion.gradcheck import (
    GradientCheckFailed,
    check_layer,
    numerical_gradient,
    relative_error,
)
from companion.ref import rnn


def test_numerical_gradient_of_a_known_function():
    rng = np.random.default_rng(0)
    p = rng.standard_normal((3, 4))
    A = rng.standard_normal((3, 4))
    before = p.copy()
    g = numerical_gradient(lambda q: float(np.sum(A * np.sin(q))), p)
    assert relative_error(g, A * np.cos(p)) < 1e-8
    np.testing.assert_array_equal(p, before)


def test_relative_error_detects_a_wrong_gradient():
    a = np.array([1.0, 2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, a * (1 + 1e-3)) == pytest.approx(3e-3 / 3.003, rel=1e-9)
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0


@pytest.mark.parametrize(
    "p, match",
    [
        (np.ones(3, dtype=np.float32), "float64"),
        ([1.0, 2.0], "numpy array"),
    ],
)
def test_numerical_gradient_rejects_bad_input(p, match):
    with pytest.raises(TypeError, match=match):
        numerical_gradient(lambda q: 0.0, p)


def test_numerical_gradient_works_on_a_non_contiguous_view():
    base = np.arange(16.0).reshape(4, 4)
    p = base[:, ::2]
    g = numerical_gradient(lambda q: float(np.sum(q**2)), p)
    assert relative_error(g, 2 * p) < 1e-8
    np.testing.assert_array_equal(base, np.arange(16.0).reshape(4, 4))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_check_layer_passes_the_reference_rnn(nonlinearity):
    rng = np.random.default_rng(3)
    params = rnn.init_params(3, 4, rng)
    params["b_ih"] += 0.3
    errors = check_layer(
        rnn,
        rng.standard_normal((5, 2, 3)),
        rng.standard_normal((2, 4)),
        params,
        rng,
        nonlinearity=nonlinearity,
    )
    assert set(errors) == {"x", "state0", "W_ih", "W_hh", "b_ih", "b_hh"}
    assert max(errors.values()) < 1e-7


class _BrokenRNN:
    """rnn with a backward that drops the b_hh gradient at one entry: check_layer must see it."""

    forward = staticmethod(rnn.forward)

    @staticmethod
    def backward(dh_seq, dh_T, cache):
        dx, dh0, grads = rnn.backward(dh_seq, dh_T, cache)
        grads["b_hh"][2] = 0.0
        return dx, dh0, grads


def test_check_layer_names_the_wrong_array_and_index():
    rng = np.random.default_rng(4)
    params = rnn.init_params(3, 4, rng)
    x, h0 = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 4))
    with pytest.raises(GradientCheckFailed, match=r"gradient of b_hh .* worst at index \(2,\)"):
        check_layer(_BrokenRNN, x, h0, params, rng)


def test_check_layer_refuses_float32():
    rng = np.random.default_rng(5)
    params = rnn.init_params(3, 4, rng, dtype=np.float32)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    with pytest.raises(TypeError, match="float64 arrays; x is float32"):
        check_layer(rnn, x, np.zeros((2, 4), np.float32), params, rng)


def test_relative_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(3,\) and \(1, 3\)"):
        relative_error(np.ones(3), np.ones((1, 3)))
