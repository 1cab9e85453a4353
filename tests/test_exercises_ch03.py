"""The chapter 3 exercise checks accept right answers and reject wrong ones."""

import numpy as np
import pytest

from companion.exercises import ExerciseCheckFailed, ch03


def scale_right(W, rho):
    return W * rho / np.max(np.abs(np.linalg.eigvals(W)))


def scale_by_singular_value(W, rho):
    return W * rho / np.linalg.norm(W, 2)


def scale_by_real_part(W, rho):
    return W * rho / np.max(np.abs(np.linalg.eigvals(W).real))


def scale_in_place(W, rho):
    W *= rho / np.max(np.abs(np.linalg.eigvals(W)))
    return W


def test_spectral_scale_accepts_the_reference(capsys):
    ch03.check_spectral_scale(scale_right)
    assert "All 5 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (scale_by_singular_value, "values differ"),
        (scale_by_real_part, "rotation"),
        (scale_in_place, "modified its input"),
    ],
)
def test_spectral_scale_rejects_wrong_answers(wrong, reason):
    with np.errstate(divide="ignore", invalid="ignore"):
        with pytest.raises(ExerciseCheckFailed, match=reason):
            ch03.check_spectral_scale(wrong)


def jacobian_right(W_hh, a_seq, nonlinearity):
    dphi = (lambda a: 1 - np.tanh(a) ** 2) if nonlinearity == "tanh" else (lambda a: a > 0)
    J = np.eye(len(W_hh))
    for a in a_seq:
        J = np.diag(dphi(a)) @ W_hh @ J
    return J


def jacobian_wrong_order(W_hh, a_seq, nonlinearity):
    J = np.eye(len(W_hh))
    for a in a_seq:
        J = J @ np.diag(1 - np.tanh(a) ** 2) @ W_hh  # newest on the right
    return J


def jacobian_phi_not_derivative(W_hh, a_seq, nonlinearity):
    J = np.eye(len(W_hh))
    for a in a_seq:
        J = np.diag(np.tanh(a)) @ W_hh @ J
    return J


def test_jacobian_accepts_the_reference(capsys):
    ch03.check_jacobian_product(jacobian_right)
    assert "All 4 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [jacobian_wrong_order, jacobian_phi_not_derivative])
def test_jacobian_rejects_wrong_answers(wrong):
    with pytest.raises(ExerciseCheckFailed, match="values differ"):
        ch03.check_jacobian_product(wrong)


def test_reference_jacobian_is_the_derivative_of_the_rnn():
    """ch03.jacobian_product is dh_T/dh_0 of the numpy RNN (by central differences)."""
    from companion.gradcheck import numerical_gradient
    from companion.ref import rnn

    rng = np.random.default_rng(0)
    p = rnn.init_params(2, 3, rng)
    x = rng.standard_normal((5, 1, 2))
    h0 = rng.standard_normal((1, 3))
    _, _, cache = rnn.forward(x, h0, p)
    J = ch03.jacobian_product(p["W_hh"], cache["a_seq"][:, 0])
    for i in range(3):
        row = numerical_gradient(lambda h, i=i: rnn.forward(x, h, p)[1][0, i], h0)
        np.testing.assert_allclose(J[i], row[0], rtol=1e-7, atol=1e-10)


def clip_right(grads, max_norm):
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    scale = max_norm / norm if norm > max_norm else 1.0
    return [g * scale for g in grads], norm


def clip_each_separately(grads, max_norm):
    out = [g * min(1.0, max_norm / max(np.linalg.norm(g), 1e-300)) for g in grads]
    return out, float(np.sqrt(sum(np.sum(g**2) for g in grads)))


def clip_norm_after(grads, max_norm):
    clipped, _ = clip_right(grads, max_norm)
    return clipped, float(np.sqrt(sum(np.sum(g**2) for g in clipped)))


def clip_divides_by_zero(grads, max_norm):
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    return [g * min(1.0, max_norm / norm) for g in grads], norm


def clip_in_place(grads, max_norm):
    clipped, norm = clip_right(grads, max_norm)
    for g, c in zip(grads, clipped, strict=True):
        g[...] = c
    return grads, norm


def test_clip_accepts_the_reference(capsys):
    ch03.check_clip_by_global_norm(clip_right)
    assert "All 4 cases passed." in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, reason",
    [
        (clip_each_separately, "large gradient"),
        (clip_norm_after, "large gradient"),
        (clip_divides_by_zero, "zero gradient"),
        (clip_in_place, "modified the gradients"),
    ],
)
def test_clip_rejects_wrong_answers(wrong, reason):
    with np.errstate(divide="ignore", invalid="ignore"):
        with pytest.raises(ExerciseCheckFailed, match=reason):
            ch03.check_clip_by_global_norm(wrong)


def rate_right(norms):
    k = np.arange(len(norms))[::-1]
    return float(np.exp(np.polyfit(k, np.log(norms), 1)[0]))


def rate_forward_index(norms):
    k = np.arange(len(norms))  # distance not reversed: the reciprocal rate
    return float(np.exp(np.polyfit(k, np.log(norms), 1)[0]))


def rate_end_points(norms):
    return float((norms[0] / norms[-1]) ** (1 / (len(norms) - 1)))


def test_fit_rate_check():
    ch03.check_fit_rate(rate_right)
    with pytest.raises(ExerciseCheckFailed, match="exact decay"):
        ch03.check_fit_rate(rate_forward_index)
    with pytest.raises(ExerciseCheckFailed, match="noisy decay"):
        ch03.check_fit_rate(rate_end_points)
