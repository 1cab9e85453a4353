"""BPTT for the numpy Elman RNN, checked against finite differences and torch autograd."""

import numpy as np
import pytest
import torch

from companion.gradcheck import numerical_gradient, relative_error
from companion.interop import params_from_torch
from companion.ref import rnn

SHAPES = [(1, 1, 1, 1), (4, 2, 3, 5), (9, 3, 2, 4)]  # (T, B, D, H)
ids = lambda s: "T{}-B{}-D{}-H{}".format(*s)  # noqa: E731


def _problem(shape, nonlinearity, seed=0):
    T, B, D, H = shape
    rng = np.random.default_rng(seed)
    params = rnn.init_params(D, H, rng)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H)) * 0.5
    # A loss that reads every h_t and the final state with different weights.
    w_seq = rng.standard_normal((T, B, H))
    w_T = rng.standard_normal((B, H))
    if nonlinearity == "relu":  # keep pre-activations away from the kink at 0
        params["b_ih"] += 0.5
    return x, h0, params, w_seq, w_T


def _loss(x, h0, params, w_seq, w_T, nonlinearity):
    h_seq, h_T, _ = rnn.forward(x, h0, params, nonlinearity)
    return float(np.sum(w_seq * h_seq) + np.sum(w_T * h_T**2))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_backward_matches_finite_differences(shape, nonlinearity):
    x, h0, params, w_seq, w_T = _problem(shape, nonlinearity)
    _, h_T, cache = rnn.forward(x, h0, params, nonlinearity)
    dx, dh0, grads = rnn.backward(w_seq, 2 * w_T * h_T, cache)

    def f(x_=x, h0_=h0, **p):
        return _loss(x_, h0_, {**params, **p}, w_seq, w_T, nonlinearity)

    assert relative_error(dx, numerical_gradient(lambda q: f(x_=q), x)) < 1e-7
    assert relative_error(dh0, numerical_gradient(lambda q: f(h0_=q), h0)) < 1e-7
    for k in params:
        g = numerical_gradient(lambda q, k=k: f(**{k: q}), params[k])
        assert relative_error(grads[k], g) < 1e-7, k


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_backward_matches_torch_autograd(shape, nonlinearity):
    T, B, D, H = shape
    torch.manual_seed(1)
    module = torch.nn.RNN(D, H, nonlinearity=nonlinearity).double()
    params = params_from_torch(module)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    dh_seq = rng.standard_normal((T, B, H))
    dh_T = rng.standard_normal((B, H))

    _, _, cache = rnn.forward(x, h0, params, nonlinearity)
    dx, dh0, grads = rnn.backward(dh_seq, dh_T, cache)

    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, h_n = module(xt, h0t)
    (out * torch.from_numpy(dh_seq)).sum().add((h_n[0] * torch.from_numpy(dh_T)).sum()).backward()

    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(dh0, h0t.grad[0].numpy(), rtol=1e-6, atol=1e-12)
    torch_names = {
        "W_ih": "weight_ih_l0",
        "W_hh": "weight_hh_l0",
        "b_ih": "bias_ih_l0",
        "b_hh": "bias_hh_l0",
    }
    for k, name in torch_names.items():
        g = getattr(module, name).grad.numpy()
        np.testing.assert_allclose(grads[k], g, rtol=1e-6, atol=1e-12, err_msg=k)


def test_backward_without_final_state_gradient_equals_zero_dh_T():
    x, h0, params, w_seq, _ = _problem((5, 2, 3, 4), "tanh")
    _, _, cache = rnn.forward(x, h0, params)
    a = rnn.backward(w_seq, None, cache)
    b = rnn.backward(w_seq, np.zeros((2, 4)), cache)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    for k in params:
        np.testing.assert_array_equal(a[2][k], b[2][k])


def test_backward_does_not_modify_its_arguments():
    x, h0, params, w_seq, w_T = _problem((4, 2, 3, 4), "tanh")
    _, _, cache = rnn.forward(x, h0, params)
    copies = [x.copy(), h0.copy(), w_seq.copy(), w_T.copy()] + [v.copy() for v in params.values()]
    rnn.backward(w_seq, w_T, cache)
    for before, after in zip(copies, [x, h0, w_seq, w_T, *params.values()], strict=True):
        np.testing.assert_array_equal(before, after)


def test_backward_rejects_bad_input():
    x, h0, params, w_seq, _ = _problem((4, 2, 3, 4), "tanh")
    _, _, cache = rnn.forward(x, h0, params)
    with pytest.raises(ValueError, match=r"dh_seq must have shape \(T, B, H\) = \(4, 2, 4\)"):
        rnn.backward(w_seq[:3], None, cache)
    with pytest.raises(ValueError, match=r"dh_T must have shape \(B, H\) = \(2, 4\)"):
        rnn.backward(w_seq, np.zeros((4, 2)), cache)
    with pytest.raises(TypeError, match="floating dtype"):
        rnn.backward(w_seq.astype(int), None, cache)
    with pytest.raises(ValueError, match="cache must come from companion.ref.rnn.forward"):
        rnn.backward(w_seq, None, {"family": "lstm"})
