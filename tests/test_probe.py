"""The gradient-norm probe against finite differences and torch autograd; the rate fit."""

import numpy as np
import pytest
import torch

from companion import init, probe
from companion.gradcheck import numerical_gradient
from companion.interop import params_to_torch
from companion.models import SequenceModel
from companion.ref import rnn


def _setup(nonlinearity="tanh", T=7, B=3, D=2, H=4, seed=0):
    rng = np.random.default_rng(seed)
    params = rnn.init_params(D, H, rng)
    if nonlinearity == "relu":
        params["b_ih"] += 0.3  # keep pre-activations away from relu's kink
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H)) * 0.5
    return params, x, h0


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_numpy_probe_matches_finite_differences(nonlinearity):
    """dL/dh_t by central differences: perturb h_t and run the remaining steps."""
    params, x, h0 = _setup(nonlinearity)
    T, B, _ = x.shape
    H = h0.shape[1]
    u = np.random.default_rng(9).standard_normal((B, H))
    norms = probe.grad_norms(params, x, h0, nonlinearity, dh_T=u, reduce="none")
    h_seq, _, _ = rnn.forward(x, h0, params, nonlinearity)
    states = [h0, *h_seq]  # h_0 .. h_T
    for t in range(T + 1):

        def loss(h_t, t=t):
            if t == T:
                return float(np.sum(u * h_t))
            _, h_T, _ = rnn.forward(x[t:], h_t, params, nonlinearity)
            return float(np.sum(u * h_T))

        g = numerical_gradient(loss, states[t])
        np.testing.assert_allclose(norms[t], np.linalg.norm(g, axis=1), rtol=1e-7)


def test_numpy_probe_at_t0_equals_rnn_backward_dh0():
    params, x, h0 = _setup()
    _, _, cache = rnn.forward(x, h0, params)
    u = np.full_like(h0, 0.5)
    _, dh0, _ = rnn.backward(np.zeros((*x.shape[:2], 4)), u, cache)
    norms = probe.grad_norms(params, x, h0, dh_T=u, reduce="none")
    np.testing.assert_allclose(norms[0], np.linalg.norm(dh0, axis=1), rtol=1e-12)
    assert norms[-1] == pytest.approx(1.0)  # ||u|| = 0.5 * sqrt(4)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_torch_probe_matches_numpy_probe(nonlinearity):
    params, x, h0 = _setup(nonlinearity, T=12)
    module = torch.nn.RNN(2, 4, nonlinearity=nonlinearity).double()
    params_to_torch(params, module)
    ours = probe.grad_norms(params, x, h0, nonlinearity, reduce="none")
    theirs = probe.grad_norms_torch(module, x, h0, reduce="none")
    np.testing.assert_allclose(theirs, ours, rtol=1e-10)
    assert theirs.shape == (13, 3)
    assert all(p.grad is None for p in module.parameters())


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_torch_probe_for_gated_cells_against_autograd_on_full_module(cell):
    torch.manual_seed(0)
    model = SequenceModel(2, 5, 1, cell=cell).double()
    x = torch.randn(6, 2, 2, dtype=torch.float64)
    norms = probe.grad_norms_torch(model, x, reduce="none")
    # dL/dh_0 through the whole module, with L = sum <u, h_T>
    h0 = torch.zeros(1, 2, 5, dtype=torch.float64, requires_grad=True)
    state = (h0, torch.zeros_like(h0)) if cell == "lstm" else h0
    out, _ = model.encoder(x, state)
    (g,) = torch.autograd.grad((out[-1] / 5**0.5).sum(), h0)
    np.testing.assert_allclose(norms[0], g[0].norm(dim=1).numpy(), rtol=1e-10)


def test_probe_loss_fn_and_small_radius_decay():
    rng = np.random.default_rng(0)
    params = rnn.init_params(3, 16, rng)
    params = init.init_params(params, "radius", radius=0.5, zero_bias=True)
    x = rng.standard_normal((40, 4, 3)) * 0.01  # near-linear regime: rate ~ rho
    norms = probe.grad_norms(params, x)
    assert norms[-1] == pytest.approx(1.0) and norms[0] < 1e-8
    assert probe.fit_rate(norms, skip=10) == pytest.approx(0.5, abs=0.02)
    module = torch.nn.RNN(3, 16).double()
    params_to_torch(params, module)
    doubled = probe.grad_norms_torch(module, x, loss_fn=lambda h: 2 * h.sum() / 4)
    np.testing.assert_allclose(doubled, 2 * norms, rtol=1e-10)


def test_fit_rate_recovers_geometric_sequences():
    k = np.arange(20)[::-1]
    assert probe.fit_rate(3.0 * 0.7**k) == pytest.approx(0.7, rel=1e-12)
    assert probe.fit_rate(1.2**k) == pytest.approx(1.2, rel=1e-12)
    transient = 0.9**k
    transient[-3:] = 50.0  # distances 0, 1, 2 are off the line
    assert probe.fit_rate(transient, skip=3) == pytest.approx(0.9, rel=1e-12)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: probe.fit_rate(np.ones((2, 2))), ValueError, "1-D"),
        (lambda: probe.fit_rate(np.zeros(5)), ValueError, "positive"),
        (lambda: probe.grad_norms(*_setup()[:2], reduce="sum"), ValueError, "reduce"),
        (lambda: probe.grad_norms(*_setup()[:2], dh_T=np.ones(4)), ValueError, r"\(3, 4\)"),
        (
            lambda: probe.grad_norms_torch(torch.nn.Linear(2, 2), np.ones((3, 1, 2))),
            TypeError,
            "RNN",
        ),
        (
            lambda: probe.grad_norms_torch(torch.nn.RNN(2, 3), np.ones((3, 1, 5))),
            ValueError,
            "shape",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
