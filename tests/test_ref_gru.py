"""The numpy GRU: backward against finite differences, forward and backward against torch,
the two conventions, and the extreme cases of the gates."""

import numpy as np
import pytest
import torch

from companion.gradcheck import check_layer
from companion.interop import params_from_torch
from companion.ref import gru, lstm, rnn

SHAPES = [(1, 1, 1, 1), (1, 2, 3, 4), (4, 2, 3, 5), (7, 1, 2, 1), (6, 3, 2, 3)]  # (T, B, D, H)
ids = lambda s: "T{}-B{}-D{}-H{}".format(*s)  # noqa: E731
CLOSE = {"rtol": 1e-6, "atol": 1e-12}


def _problem(shape, seed=0, update_bias=0.0):
    T, B, D, H = shape
    rng = np.random.default_rng(seed)
    params = gru.init_params(D, H, rng, update_bias=update_bias)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H)) * 0.5
    return rng, x, h0, params


@pytest.mark.parametrize("update_bias", [0.0, 2.0])
@pytest.mark.parametrize("reset", ["after", "before"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_backward_matches_finite_differences(shape, reset, update_bias):
    rng, x, h0, params = _problem(shape, update_bias=update_bias)
    errors = check_layer(gru, x, h0, params, rng, reset=reset)
    assert set(errors) == {"x", "state0", "W_ih", "W_hh", "b_ih", "b_hh"}
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("reset", ["after", "before"])
def test_backward_in_the_chung_convention(reset):
    rng, x, h0, params = _problem((5, 2, 3, 4), seed=3)
    errors = check_layer(gru, x, h0, params, rng, reset=reset, update="chung")
    assert max(errors.values()) < 1e-7


def test_gradient_check_catches_a_wrong_backward(monkeypatch):
    """The check has teeth: the LSTM's rule db_hh = db_ih is wrong in the GRU's n block."""
    rng, x, h0, params = _problem((4, 2, 3, 5))
    right = gru.backward

    def lstm_style_biases(dh_seq, dh_T, cache):
        dx, dh0, grads = right(dh_seq, dh_T, cache)
        return dx, dh0, {**grads, "b_hh": grads["b_ih"].copy()}

    monkeypatch.setattr(gru, "backward", lstm_style_biases)
    with pytest.raises(AssertionError, match="b_hh"):
        check_layer(gru, x, h0, params, rng)


def _torch_run(module, x, h0, dh_seq, dh_T):
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, h_n = module(xt, h0t)
    loss = (out * torch.from_numpy(dh_seq)).sum() + (h_n[0] * torch.from_numpy(dh_T)).sum()
    loss.backward()
    return out.detach().numpy(), h_n[0].detach().numpy(), xt.grad.numpy(), h0t.grad[0].numpy()


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_forward_and_backward_match_torch(shape):
    T, B, D, H = shape
    torch.manual_seed(1)
    module = torch.nn.GRU(D, H).double()
    params = params_from_torch(module)
    rng, x, h0, _ = _problem(shape, seed=2)
    dh_seq = rng.standard_normal((T, B, H))
    dh_T = rng.standard_normal((B, H))

    h_seq, h_T, cache = gru.forward(x, h0, params)
    dx, dh0, grads = gru.backward(dh_seq, dh_T, cache)
    out, h_n, gx, gh0 = _torch_run(module, x, h0, dh_seq, dh_T)

    np.testing.assert_allclose(h_seq, out, **CLOSE)
    np.testing.assert_allclose(h_T, h_n, **CLOSE)
    np.testing.assert_allclose(dx, gx, **CLOSE)
    np.testing.assert_allclose(dh0, gh0, **CLOSE)
    for k, name in [("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0")]:
        np.testing.assert_allclose(grads[k], getattr(module, name).grad.numpy(), **CLOSE)
    for k, name in [("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")]:
        np.testing.assert_allclose(grads[k], getattr(module, name).grad.numpy(), **CLOSE)
    # b_hn sits inside the reset product, so the two bias gradients differ in the n block
    assert not np.allclose(grads["b_ih"][2 * H :], grads["b_hh"][2 * H :])


def test_reset_before_is_a_different_function():
    _, x, h0, _ = _problem((8, 4, 3, 6), seed=4)
    torch.manual_seed(4)
    module = torch.nn.GRU(3, 6).double()
    params = params_from_torch(module)
    with torch.no_grad():
        theirs = module(torch.from_numpy(x), torch.from_numpy(h0[None]))[0].numpy()
    before, _, _ = gru.forward(x, h0, params, reset="before")
    assert np.abs(before - theirs).max() > 1e-3
    # with b_hn = 0 and r = 1 they agree: r * (W_hn h + b_hn) = W_hn (r * h) + b_hn
    H = 6
    params["b_hh"][2 * H :] = 0.0
    params["W_ih"][:H] = params["W_hh"][:H] = 0.0
    params["b_ih"][:H], params["b_hh"][:H] = 50.0, 0.0
    after, _, _ = gru.forward(x, h0, params)
    before, _, _ = gru.forward(x, h0, params, reset="before")
    np.testing.assert_allclose(after, before, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reset", ["after", "before"])
def test_flipping_the_update_convention_gives_the_same_outputs(reset):
    _, x, h0, params = _problem((6, 3, 2, 4), seed=5, update_bias=1.0)
    flipped = gru.flip_update_convention(params)
    h_seq, h_T, cache = gru.forward(x, h0, params, reset=reset)
    h_chung, h_T_chung, cache_chung = gru.forward(x, h0, flipped, reset=reset, update="chung")
    np.testing.assert_allclose(h_chung, h_seq, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cache_chung["gates"]["z"], 1 - cache["gates"]["z"], atol=1e-14)
    # only the z block changes, and the flip is its own inverse
    for k in params:
        np.testing.assert_array_equal(flipped[k][4:8], -params[k][4:8])
        np.testing.assert_array_equal(
            np.delete(flipped[k], range(4, 8), 0), np.delete(params[k], range(4, 8), 0)
        )
        np.testing.assert_array_equal(gru.flip_update_convention(flipped)[k], params[k])
    # and the same params in the other convention give another function
    h_other, _, _ = gru.forward(x, h0, params, reset=reset, update="chung")
    assert np.abs(h_other - h_seq).max() > 1e-3


def test_update_gate_at_one_copies_the_state():
    _, x, h0, params = _problem((20, 3, 2, 4), seed=6)
    H = 4
    params["W_ih"][H : 2 * H] = params["W_hh"][H : 2 * H] = 0.0
    params["b_ih"][H : 2 * H], params["b_hh"][H : 2 * H] = 40.0, 0.0  # z = 1 in float64
    h_seq, _, cache = gru.forward(x * 10, h0, params)
    np.testing.assert_allclose(h_seq, np.broadcast_to(h0, h_seq.shape), rtol=0, atol=1e-14)
    assert np.all(cache["gates"]["z"] == 1.0)


def test_update_gate_at_zero_with_reset_one_is_the_tanh_rnn():
    _, x, h0, params = _problem((9, 2, 3, 5), seed=7)
    H = 5
    params["W_ih"][: 2 * H] = params["W_hh"][: 2 * H] = 0.0
    params["b_ih"][:H], params["b_hh"][:H] = 50.0, 0.0  # r = 1
    params["b_ih"][H : 2 * H], params["b_hh"][H : 2 * H] = -50.0, 0.0  # z = 0
    h_seq, _, _ = gru.forward(x, h0, params)
    n_block = {k: v[2 * H :].copy() for k, v in params.items()}
    h_rnn, _, _ = rnn.forward(x, h0, n_block)
    np.testing.assert_allclose(h_seq, h_rnn, rtol=1e-12, atol=1e-14)
    for reset in ("after", "before"):  # with r = 1 the reset placement does not matter
        np.testing.assert_allclose(gru.forward(x, h0, params, reset=reset)[0], h_rnn, atol=1e-14)


def test_reset_at_zero_forgets_the_past_in_the_candidate():
    _, x, h0, params = _problem((1, 2, 3, 4), seed=8)
    H = 4
    params["W_ih"][:H] = params["W_hh"][:H] = 0.0
    params["b_ih"][:H], params["b_hh"][:H] = -50.0, 0.0  # r = 0
    ax_n = x[0] @ params["W_ih"][2 * H :].T + params["b_ih"][2 * H :]
    b_hn = params["b_hh"][2 * H :]
    after = gru.forward(x, h0, params)[2]["gates"]["n"][0]
    before = gru.forward(x, h0, params, reset="before")[2]["gates"]["n"][0]
    np.testing.assert_allclose(after, np.tanh(ax_n), atol=1e-14)  # r * (W_hn h + b_hn) = 0
    np.testing.assert_allclose(before, np.tanh(ax_n + b_hn), atol=1e-14)  # W_hn (0 * h) + b_hn


def test_step_equals_one_step_of_forward_and_gates_are_exposed():
    _, x, h0, params = _problem((5, 3, 2, 4), update_bias=1.0)
    for reset in ("after", "before"):
        for update in ("torch", "chung"):
            h_seq, h_T, cache = gru.forward(x, h0, params, reset=reset, update=update)
            h = gru.step(x[0], h0, params, reset=reset, update=update)
            np.testing.assert_allclose(h, h_seq[0], rtol=1e-12)
            np.testing.assert_array_equal(h_T, h_seq[-1])
    gates = gru.forward(x, h0, params)[2]["gates"]
    assert sorted(gates) == ["n", "r", "z"]
    for k in "rz":
        assert gates[k].shape == (5, 3, 4) and np.all((gates[k] > 0) & (gates[k] < 1))
    assert np.all(np.abs(gates["n"]) < 1)


def test_update_bias_and_torch_like_draw():
    p0 = gru.init_params(3, 4, np.random.default_rng(0))
    p1 = gru.init_params(3, 4, np.random.default_rng(0), update_bias=3.0)
    delta = p1["b_ih"] - p0["b_ih"]
    np.testing.assert_allclose(delta, np.r_[np.zeros(4), 3 * np.ones(4), np.zeros(4)], atol=1e-15)
    assert all(np.array_equal(p0[k], p1[k]) for k in ("W_ih", "W_hh", "b_hh"))
    assert np.abs(p0["W_hh"]).max() <= 0.5 and p0["W_hh"].shape == (12, 4)
    assert (
        gru.init_params(3, 4, np.random.default_rng(0), dtype=np.float32)["b_hh"].dtype
        == np.float32
    )


def test_nothing_is_modified():
    rng, x, h0, params = _problem((4, 2, 3, 5))
    dh_seq, dh_T = rng.standard_normal((4, 2, 5)), rng.standard_normal((2, 5))
    inputs = [x, h0, *params.values(), dh_seq, dh_T]
    originals = [a.copy() for a in inputs]
    for reset in ("after", "before"):
        _, _, cache = gru.forward(x, h0, params, reset=reset)
        gru.step(x[0], h0, params, reset=reset)
        gru.backward(dh_seq, dh_T, cache)
    gru.flip_update_convention(params)
    for before, now in zip(originals, inputs, strict=True):
        np.testing.assert_array_equal(before, now)


def test_zero_state_and_missing_final_gradient_are_zeros():
    _, x, _, params = _problem((4, 2, 3, 5))
    a = gru.forward(x, None, params)
    b = gru.forward(x, np.zeros((2, 5)), params)
    np.testing.assert_array_equal(a[0], b[0])
    dh_seq = np.ones((4, 2, 5))
    for u, v in zip(
        gru.backward(dh_seq, None, a[2])[:2],
        gru.backward(dh_seq, np.zeros((2, 5)), a[2])[:2],
        strict=True,
    ):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("D, H", [(1, 1), (2, 64), (10, 20), (7, 3)])
def test_count_params_equals_torch(D, H):
    module = torch.nn.GRU(D, H)
    assert gru.count_params(D, H) == sum(p.numel() for p in module.parameters())
    assert gru.count_params(D, H, torch_biases=False) == 3 * (H * (D + H) + H)


def test_bad_input():
    rng, x, h0, params = _problem((4, 2, 3, 5))
    with pytest.raises(
        ValueError, match=r"reset must be one of \('after', 'before'\); got 'inside'"
    ):
        gru.forward(x, h0, params, reset="inside")
    with pytest.raises(ValueError, match=r"update must be one of \('torch', 'chung'\); got 'cho'"):
        gru.step(x[0], h0, params, update="cho")
    with pytest.raises(
        ValueError, match=r"params\['W_hh'\] for gru must have shape \(3\*H, H\); got \(20, 5\)"
    ):
        gru.forward(x, h0, lstm.init_params(3, 5, rng))
    with pytest.raises(
        ValueError, match=r"params\['W_hh'\] for gru must have shape \(3\*H, H\); got \(5, 5\)"
    ):
        gru.forward(x, h0, rnn.init_params(3, 5, rng))
    with pytest.raises(ValueError, match=r"params\['W_hh'\] for gru .*got \(12, 3\)"):
        gru.forward(x, None, lstm.init_params(3, 3, rng))  # 4H rows with H = 3
    short = {**params, "b_hh": params["b_hh"][:10]}
    with pytest.raises(
        ValueError,
        match=r"params\['b_hh'\] for gru with D=3, H=5 must have shape \(15,\); got \(10,\)",
    ):
        gru.forward(x, h0, short)
    with pytest.raises(ValueError, match=r"missing \['b_ih'\]"):
        gru.flip_update_convention({k: v for k, v in params.items() if k != "b_ih"})
    with pytest.raises(TypeError, match="params must be a dict"):
        gru.flip_update_convention([params["W_ih"]])
    with pytest.raises(
        ValueError, match=r"h0 must have shape \(B, H\) = \(2, 5\); got \(1, 2, 5\)"
    ):
        gru.forward(x, h0[None], params)
    with pytest.raises(TypeError, match="share one floating dtype"):
        gru.forward(x, h0.astype(np.float32), params)
    with pytest.raises(TypeError, match="x must be a numpy array"):
        gru.forward(x.tolist(), h0, params)
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, D\)"):
        gru.step(x, h0, params)

    _, _, cache = gru.forward(x, h0, params)
    with pytest.raises(ValueError, match=r"dh_seq must have shape \(T, B, H\) = \(4, 2, 5\)"):
        gru.backward(np.zeros((3, 2, 5)), None, cache)
    with pytest.raises(ValueError, match=r"dh_T must have shape \(B, H\) = \(2, 5\)"):
        gru.backward(np.zeros((4, 2, 5)), np.zeros((5, 2)), cache)
    _, _, lstm_cache = lstm.forward(x, None, lstm.init_params(3, 5, rng))
    with pytest.raises(ValueError, match="cache must come from companion.ref.gru.forward.*'lstm'"):
        gru.backward(np.zeros((4, 2, 5)), None, lstm_cache)
