"""The finite-difference tools themselves: right on known gradients, and strict on input."""

import numpy as np
import pytest

from companion.gradcheck import numerical_gradient, relative_error


def test_numerical_gradient_of_a_known_function():
    rng = np.random.default_rng(0)
    p = rng.standard_normal((3, 4))
    A = rng.standard_normal((3, 4))
    before = p.copy()
    g = numerical_gradient(lambda: float(np.sum(A * np.sin(p))), p)
    assert relative_error(g, A * np.cos(p)) < 1e-8
    np.testing.assert_array_equal(p, before)


def test_numerical_gradient_restores_p_when_f_raises():
    p = np.ones(3)

    def f():
        if p[0] != 1.0:
            raise RuntimeError("boom")
        return 0.0

    with pytest.raises(RuntimeError):
        numerical_gradient(f, p)
    np.testing.assert_array_equal(p, np.ones(3))


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
        numerical_gradient(lambda: 0.0, p)


def test_numerical_gradient_rejects_a_non_contiguous_view():
    p = np.ones((4, 4))[:, ::2]
    with pytest.raises(ValueError, match="contiguous"):
        numerical_gradient(lambda: 0.0, p)


def test_relative_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(3,\) and \(1, 3\)"):
        relative_error(np.ones(3), np.ones((1, 3)))
