"""The numpy readout and losses: finite differences, torch parity, errors, no mutation."""

import numpy as np
import pytest
import torch

from companion.gradcheck import numerical_gradient, relative_error
from companion.ref import readout

SHAPES = [(1, 1, 1, 1), (4, 2, 3, 5), (3, 5, 6, 2)]  # (T, B, H, Q)
ids = lambda s: "T{}-B{}-H{}-Q{}".format(*s)  # noqa: E731


def _linear(H, Q, seed=0):
    rng = np.random.default_rng(seed)
    p = readout.init_params(H, Q, rng)
    return rng, p["W_hq"], p["b_q"]


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_backward_matches_finite_differences(shape):
    T, B, H, Q = shape
    rng, W_hq, b_q = _linear(H, Q)
    h = rng.standard_normal((T, B, H))
    w = rng.standard_normal((T, B, Q))  # L = sum(w * out) reads every output

    def f(h_=h, W_=W_hq, b_=b_q):
        return float(np.sum(w * readout.forward(h_, W_, b_)[0]))

    _, cache = readout.forward(h, W_hq, b_q)
    dh, grads = readout.backward(w, cache)
    assert relative_error(dh, numerical_gradient(lambda q: f(h_=q), h)) < 1e-7
    assert relative_error(grads["W_hq"], numerical_gradient(lambda q: f(W_=q), W_hq)) < 1e-7
    assert relative_error(grads["b_q"], numerical_gradient(lambda q: f(b_=q), b_q)) < 1e-7


@pytest.mark.parametrize("lead", [(5,), (3, 4), (2, 3, 2)])
def test_forward_and_backward_match_torch_linear(lead):
    H, Q = 4, 3
    torch.manual_seed(0)
    lin = torch.nn.Linear(H, Q).double()
    W_hq = lin.weight.detach().numpy().copy()
    b_q = lin.bias.detach().numpy().copy()
    rng = np.random.default_rng(1)
    h = rng.standard_normal((*lead, H))
    dout = rng.standard_normal((*lead, Q))

    out, cache = readout.forward(h, W_hq, b_q)
    dh, grads = readout.backward(dout, cache)

    ht = torch.tensor(h, requires_grad=True)
    out_t = lin(ht)
    (out_t * torch.from_numpy(dout)).sum().backward()
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dh, ht.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grads["W_hq"], lin.weight.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grads["b_q"], lin.bias.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_init_params_shapes_range_and_dtype():
    p = readout.init_params(16, 7, np.random.default_rng(0), dtype=np.float32)
    assert p["W_hq"].shape == (7, 16) and p["b_q"].shape == (7,)
    assert p["W_hq"].dtype == np.float32 and p["b_q"].dtype == np.float32
    assert np.abs(p["W_hq"]).max() <= 0.25 and np.abs(p["b_q"]).max() <= 0.25


@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 3, 5)])
def test_mse_matches_torch_and_finite_differences(shape):
    rng = np.random.default_rng(0)
    out, y = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, dout = readout.mse(out, y)
    ot = torch.tensor(out, requires_grad=True)
    lt = torch.nn.functional.mse_loss(ot, torch.from_numpy(y))
    lt.backward()
    assert loss == pytest.approx(float(lt.detach()), rel=1e-12)
    np.testing.assert_allclose(dout, ot.grad.numpy(), rtol=1e-12)
    num = numerical_gradient(lambda q: readout.mse(q, y)[0], out)
    assert relative_error(dout, num) < 1e-7


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 6), (1, 1, 1)])
def test_cross_entropy_matches_torch(shape):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(shape) * 3
    targets = rng.integers(0, shape[-1], size=shape[:-1])
    loss, dlogits = readout.softmax_cross_entropy(logits, targets)

    lt = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(
        lt.reshape(-1, shape[-1]), torch.from_numpy(targets).reshape(-1)
    )
    ref.backward()
    assert loss == pytest.approx(float(ref.detach()), rel=1e-12)
    np.testing.assert_allclose(dlogits, lt.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4)])
def test_cross_entropy_gradient_matches_finite_differences(shape):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal(shape)
    targets = rng.integers(0, shape[-1], size=shape[:-1])
    _, dlogits = readout.softmax_cross_entropy(logits, targets)
    num = numerical_gradient(lambda q: readout.softmax_cross_entropy(q, targets)[0], logits)
    assert relative_error(dlogits, num) < 1e-7


def test_cross_entropy_is_stable_for_huge_logits_and_keeps_float32():
    logits = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    loss, d = readout.softmax_cross_entropy(logits, np.array([0]))
    assert loss == pytest.approx(0.0, abs=1e-6) and d.dtype == np.float32
    loss, _ = readout.softmax_cross_entropy(logits, np.array([1]))
    assert loss == pytest.approx(1000.0, rel=1e-6)


def test_uniform_logits_give_log_V():
    loss, _ = readout.softmax_cross_entropy(np.zeros((3, 2, 7)), np.zeros((3, 2), dtype=int))
    assert loss == pytest.approx(np.log(7))


def test_softmax_matches_torch_and_temperature():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 4, 5))
    for tau in (0.5, 1.0, 2.0):
        p = readout.softmax(logits, temperature=tau)
        ref = torch.softmax(torch.from_numpy(logits) / tau, dim=-1).numpy()
        np.testing.assert_allclose(p, ref, rtol=1e-12)
    sharp = readout.softmax(np.array([1.0, 2.0, 1.5]), temperature=1e-3)
    np.testing.assert_allclose(sharp, [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(readout.softmax(np.array([1e4, 0.0])), [1.0, 0.0])
    np.testing.assert_allclose(
        np.exp(readout.log_softmax(logits)), readout.softmax(logits), rtol=1e-12
    )


def test_inputs_are_not_modified():
    rng = np.random.default_rng(0)
    h, W_hq, b_q = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 4)), np.zeros(5)
    logits, targets = rng.standard_normal((3, 2, 5)), rng.integers(0, 5, size=(3, 2))
    y, dout = rng.standard_normal((3, 2, 5)), rng.standard_normal((3, 2, 5))
    saved = [a.copy() for a in (h, W_hq, b_q, logits, targets, y, dout)]
    _, cache = readout.forward(h, W_hq, b_q)
    readout.backward(dout, cache)
    readout.mse(logits, y)
    readout.softmax(logits, 0.7)
    readout.softmax_cross_entropy(logits, targets)
    for a, b in zip((h, W_hq, b_q, logits, targets, y, dout), saved, strict=True):
        np.testing.assert_array_equal(a, b)


def test_forward_rejects_bad_input():
    h, W_hq, b_q = np.zeros((3, 2, 4)), np.zeros((5, 4)), np.zeros(5)
    with pytest.raises(ValueError, match=r"W_hq must have shape \(Q, H\) with H = 4; got \(5, 3\)"):
        readout.forward(h, np.zeros((5, 3)), b_q)
    with pytest.raises(ValueError, match=r"b_q must have shape \(Q,\) = \(5,\); got \(4,\)"):
        readout.forward(h, W_hq, np.zeros(4))
    with pytest.raises(TypeError, match="floating dtype"):
        readout.forward(h.astype(int), W_hq, b_q)
    with pytest.raises(TypeError, match="numpy array"):
        readout.forward(h.tolist(), W_hq, b_q)
    with pytest.raises(TypeError, match="one floating dtype"):
        readout.forward(h.astype(np.float32), W_hq, b_q)


def test_backward_rejects_bad_input():
    _, cache = readout.forward(np.zeros((3, 2, 4)), np.zeros((5, 4)), np.zeros(5))
    with pytest.raises(ValueError, match=r"shape of out, \(3, 2, 5\); got \(3, 2, 4\)"):
        readout.backward(np.zeros((3, 2, 4)), cache)
    with pytest.raises(ValueError, match="cache must come from companion.ref.readout"):
        readout.backward(np.zeros((3, 2, 5)), {"family": "rnn"})


def test_losses_reject_bad_input():
    logits = np.zeros((3, 2, 5))
    with pytest.raises(TypeError, match="integer dtype; got dtype float64"):
        readout.softmax_cross_entropy(logits, np.zeros((3, 2)))
    with pytest.raises(TypeError, match="numpy array of integers; got list"):
        readout.softmax_cross_entropy(logits, [[0, 0]] * 3)
    with pytest.raises(ValueError, match=r"leading shape of logits, \(3, 2\); got \(2, 3\)"):
        readout.softmax_cross_entropy(logits, np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match=r"\[0, V\) = \[0, 5\); got values in \[5, 5\]"):
        readout.softmax_cross_entropy(logits, np.full((3, 2), 5))
    with pytest.raises(ValueError, match=r"got values in \[-1, 0\]"):
        readout.softmax_cross_entropy(logits, np.array([[0, -1]] * 3))
    with pytest.raises(ValueError, match="temperature must be a positive finite number; got 0"):
        readout.softmax(logits, temperature=0)
    with pytest.raises(ValueError, match="temperature"):
        readout.softmax(logits, temperature=-1.0)
    with pytest.raises(TypeError, match="temperature must be a number; got str"):
        readout.softmax(logits, temperature="1")
    with pytest.raises(ValueError, match=r"one shape; got \(3, 2, 5\) and \(3, 2\)"):
        readout.mse(logits, np.zeros((3, 2)))


def test_init_params_rejects_bad_input():
    with pytest.raises(ValueError, match="H must be a positive integer; got 0"):
        readout.init_params(0, 3, np.random.default_rng(0))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        readout.init_params(3, 3, 0)
