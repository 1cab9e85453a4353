"""The numpy LSTM: backward against finite differences, forward and backward against torch."""

import numpy as np
import pytest
import torch

from companion.gradcheck import check_layer
from companion.interop import params_from_torch
from companion.ref import lstm, rnn

SHAPES = [(1, 1, 1, 1), (1, 2, 3, 4), (4, 2, 3, 5), (7, 1, 2, 1), (6, 3, 2, 3)]  # (T, B, D, H)
ids = lambda s: "T{}-B{}-D{}-H{}".format(*s)  # noqa: E731


def _problem(shape, seed=0, forget_bias=0.0):
    T, B, D, H = shape
    rng = np.random.default_rng(seed)
    params = lstm.init_params(D, H, rng, forget_bias=forget_bias)
    x = rng.standard_normal((T, B, D))
    state0 = (rng.standard_normal((B, H)) * 0.5, rng.standard_normal((B, H)))
    return rng, x, state0, params


@pytest.mark.parametrize("forget_bias", [0.0, 1.0])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_backward_matches_finite_differences(shape, forget_bias):
    rng, x, state0, params = _problem(shape, forget_bias=forget_bias)
    errors = check_layer(lstm, x, state0, params, rng)
    assert set(errors) == {"x", "state0[0]", "state0[1]", "W_ih", "W_hh", "b_ih", "b_hh"}
    assert max(errors.values()) < 1e-7


def test_gradient_check_catches_a_wrong_backward(monkeypatch):
    """The check has teeth: dropping the cell path dc_{t-1} = f * dc_t makes it fail."""
    rng, x, state0, params = _problem((4, 2, 3, 5))
    right = lstm.backward

    def no_cell_path(dh_seq, dstate_T, cache):
        dx, (dh0, _), grads = right(dh_seq, dstate_T, cache)
        return dx, (dh0, np.zeros_like(dh0)), grads

    monkeypatch.setattr(lstm, "backward", no_cell_path)
    with pytest.raises(AssertionError, match="state0"):
        check_layer(lstm, x, state0, params, rng)


def _torch_run(module, x, state0, dh_seq, dstate_T):
    xt = torch.tensor(x, requires_grad=True)
    h0 = torch.tensor(state0[0][None], requires_grad=True)
    c0 = torch.tensor(state0[1][None], requires_grad=True)
    out, (h_n, c_n) = module(xt, (h0, c0))
    loss = (out * torch.from_numpy(dh_seq)).sum()
    loss = loss + (h_n[0] * torch.from_numpy(dstate_T[0])).sum()
    loss = loss + (c_n[0] * torch.from_numpy(dstate_T[1])).sum()
    loss.backward()
    return out, h_n, c_n, xt.grad, h0.grad, c0.grad


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_forward_and_backward_match_torch(shape):
    T, B, D, H = shape
    torch.manual_seed(1)
    module = torch.nn.LSTM(D, H).double()
    params = params_from_torch(module)
    rng, x, state0, _ = _problem(shape, seed=2)
    dh_seq = rng.standard_normal((T, B, H))
    dstate_T = (rng.standard_normal((B, H)), rng.standard_normal((B, H)))

    h_seq, (h_T, c_T), cache = lstm.forward(x, state0, params)
    dx, (dh0, dc0), grads = lstm.backward(dh_seq, dstate_T, cache)
    out, h_n, c_n, gx, gh0, gc0 = _torch_run(module, x, state0, dh_seq, dstate_T)

    close = {"rtol": 1e-6, "atol": 1e-12}
    np.testing.assert_allclose(h_seq, out.detach().numpy(), **close)
    np.testing.assert_allclose(h_T, h_n[0].detach().numpy(), **close)
    np.testing.assert_allclose(c_T, c_n[0].detach().numpy(), **close)
    np.testing.assert_allclose(dx, gx.numpy(), **close)
    np.testing.assert_allclose(dh0, gh0[0].numpy(), **close)
    np.testing.assert_allclose(dc0, gc0[0].numpy(), **close)
    for k, name in [("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0")]:
        np.testing.assert_allclose(grads[k], getattr(module, name).grad.numpy(), **close)
    for k, name in [("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")]:
        np.testing.assert_allclose(grads[k], getattr(module, name).grad.numpy(), **close)


def test_step_equals_one_step_of_forward_and_gates_are_exposed():
    _, x, state0, params = _problem((5, 3, 2, 4), forget_bias=1.0)
    h_seq, (h_T, c_T), cache = lstm.forward(x, state0, params)
    h, c = lstm.step(x[0], state0, params)
    np.testing.assert_allclose(h, h_seq[0], rtol=1e-12)
    np.testing.assert_allclose(c, cache["c_seq"][0], rtol=1e-12)
    np.testing.assert_array_equal(h_T, h_seq[-1])
    np.testing.assert_array_equal(c_T, cache["c_seq"][-1])
    gates = cache["gates"]
    assert sorted(gates) == ["f", "g", "i", "o"]
    for k in "ifo":
        assert gates[k].shape == (5, 3, 4) and np.all((gates[k] > 0) & (gates[k] < 1))
    assert np.all(np.abs(gates["g"]) < 1)
    np.testing.assert_allclose(h_seq, gates["o"] * np.tanh(cache["c_seq"]), rtol=1e-12)


def test_zero_state_and_missing_final_gradients_are_zeros():
    _, x, _, params = _problem((4, 2, 3, 5))
    zeros = (np.zeros((2, 5)), np.zeros((2, 5)))
    a = lstm.forward(x, None, params)
    b = lstm.forward(x, zeros, params)
    np.testing.assert_array_equal(a[0], b[0])
    dh_seq = np.ones((4, 2, 5))
    for dstate_T in [None, (None, None), (zeros[0], None), (None, zeros[1])]:
        dx, (dh0, dc0), _ = lstm.backward(dh_seq, dstate_T, a[2])
        ref_dx, (ref_dh0, ref_dc0), _ = lstm.backward(dh_seq, zeros, a[2])
        np.testing.assert_array_equal(dx, ref_dx)
        np.testing.assert_array_equal(dh0, ref_dh0)
        np.testing.assert_array_equal(dc0, ref_dc0)


def test_forget_bias_and_torch_like_draw():
    rng = np.random.default_rng(0)
    p0 = lstm.init_params(3, 4, np.random.default_rng(0))
    p1 = lstm.init_params(3, 4, rng, forget_bias=1.0)
    delta = p1["b_ih"] - p0["b_ih"]
    np.testing.assert_allclose(delta, np.r_[np.zeros(4), np.ones(4), np.zeros(8)], atol=1e-15)
    assert all(np.array_equal(p0[k], p1[k]) for k in ("W_ih", "W_hh", "b_hh"))
    assert np.abs(p0["W_hh"]).max() <= 0.5 and p0["W_hh"].shape == (16, 4)
    assert lstm.init_params(3, 4, rng, dtype=np.float32)["W_ih"].dtype == np.float32


def test_nothing_is_modified():
    rng, x, state0, params = _problem((4, 2, 3, 5))
    originals = [x.copy(), *(s.copy() for s in state0), *(p.copy() for p in params.values())]
    dh_seq = rng.standard_normal((4, 2, 5))
    dstate_T = (rng.standard_normal((2, 5)), rng.standard_normal((2, 5)))
    grads_in = [dh_seq.copy(), dstate_T[0].copy(), dstate_T[1].copy()]
    _, _, cache = lstm.forward(x, state0, params)
    lstm.step(x[0], state0, params)
    lstm.backward(dh_seq, dstate_T, cache)
    after = [x, *state0, *params.values()]
    for before, now in zip(originals + grads_in, after + [dh_seq, *dstate_T], strict=True):
        np.testing.assert_array_equal(before, now)


@pytest.mark.parametrize("D, H", [(1, 1), (2, 64), (10, 20), (7, 3)])
def test_count_params_equals_torch(D, H):
    module = torch.nn.LSTM(D, H)
    assert lstm.count_params(D, H) == sum(p.numel() for p in module.parameters())
    assert lstm.count_params(D, H, torch_biases=False) == 4 * (H * (D + H) + H)


def test_bad_input():
    rng, x, (h0, c0), params = _problem((4, 2, 3, 5))
    with pytest.raises(TypeError, match=r"pair \(h0, c0\).*single array of shape \(2, 5\)"):
        lstm.forward(x, h0, params)
    with pytest.raises(TypeError, match=r"pair \(h0, c0\) of arrays .*; got length 3"):
        lstm.forward(x, (h0, c0, c0), params)
    with pytest.raises(ValueError, match=r"c0 must have shape \(B, H\) = \(2, 5\); got \(2, 4\)"):
        lstm.forward(x, (h0, c0[:, :4]), params)
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, H\) = \(2, 5\); got \(3, 5\)"):
        lstm.forward(x, (np.zeros((3, 5)), np.zeros((3, 5))), params)
    with pytest.raises(TypeError, match="c0 must be a numpy array of floats; got NoneType"):
        lstm.forward(x, (h0, None), params)
    with pytest.raises(TypeError, match="share one floating dtype"):
        lstm.forward(x, (h0.astype(np.float32), c0), params)
    one_block = {**params, "W_ih": params["W_ih"][:5]}
    with pytest.raises(
        ValueError, match=r"params\['W_ih'\] for lstm .* shape \(20, 3\); got \(5, 3\)"
    ):
        lstm.forward(x, (h0, c0), one_block)
    with pytest.raises(ValueError, match=r"\(4\*H, H\); got \(5, 5\)"):
        lstm.forward(x, (h0, c0), rnn.init_params(3, 5, rng))
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, D\)"):
        lstm.step(x, (h0, c0), params)
    with pytest.raises(TypeError, match="single array"):
        lstm.step(x[0], h0, params)

    _, _, cache = lstm.forward(x, (h0, c0), params)
    dh_seq = np.zeros((4, 2, 5))
    with pytest.raises(ValueError, match=r"dh_seq must have shape \(T, B, H\) = \(4, 2, 5\)"):
        lstm.backward(dh_seq[:3], None, cache)
    with pytest.raises(TypeError, match=r"pair \(dh_T, dc_T\).*single array"):
        lstm.backward(dh_seq, np.zeros((2, 5)), cache)
    with pytest.raises(ValueError, match=r"dc_T must have shape \(B, H\) = \(2, 5\)"):
        lstm.backward(dh_seq, (None, np.zeros((5, 2))), cache)
    _, _, rnn_cache = rnn.forward(x, None, rnn.init_params(3, 5, rng))
    with pytest.raises(ValueError, match="cache must come from companion.ref.lstm.forward.*'rnn'"):
        lstm.backward(dh_seq, None, rnn_cache)
