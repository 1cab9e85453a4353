"""Recurrent-matrix initialisations: exact spectral radius, orthogonality, identity, torch."""

import numpy as np
import pytest
import torch

from companion import families, init
from companion import nn as cnn
from companion.interop import params_from_torch
from companion.models import SequenceModel
from companion.ref import rnn


@pytest.mark.parametrize("radius", [0.5, 0.9, 1.0, 1.1, 1.5])
@pytest.mark.parametrize("H", [1, 2, 16, 64])
def test_scale_to_radius_reaches_the_target(H, radius):
    W = np.random.default_rng(H).standard_normal((H, H))
    scaled = init.scale_to_radius(W, radius)
    assert abs(init.spectral_radius(scaled) - radius) < 1e-10
    np.testing.assert_allclose(scaled / W, radius / init.spectral_radius(W))  # a pure rescaling
    assert not np.shares_memory(scaled, W)


def test_spectral_radius_uses_eigenvalues_not_singular_values():
    shear = np.array([[0.5, 3.0], [0.0, 0.5]])
    assert init.spectral_radius(shear) == pytest.approx(0.5)
    assert init.largest_singular_value(shear) > 3.0
    rotation = np.array([[0.0, -2.0], [2.0, 0.0]])  # eigenvalues +-2i
    assert init.spectral_radius(init.scale_to_radius(rotation, 1.0)) == pytest.approx(1.0)


def test_scale_keeps_float32():
    W = np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32)
    out = init.scale_to_radius(W, 0.9)
    assert out.dtype == np.float32 and abs(init.spectral_radius(out) - 0.9) < 1e-6


@pytest.mark.parametrize("H", [1, 3, 32])
def test_orthogonal_is_orthogonal_and_random(H):
    Q = init.orthogonal(H, np.random.default_rng(0))
    np.testing.assert_allclose(Q.T @ Q, np.eye(H), atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(Q, compute_uv=False), np.ones(H), atol=1e-12)
    if H > 1:
        assert not np.allclose(Q, init.orthogonal(H, np.random.default_rng(1)))
    np.testing.assert_allclose(init.orthogonal(H, np.random.default_rng(0), gain=0.5), 0.5 * Q)


def test_orthogonal_is_haar_not_biased_towards_positive_diagonal():
    # Without the sign correction, QR's Q has a biased diagonal; Haar gives mean trace 0.
    traces = [np.trace(init.orthogonal(4, np.random.default_rng(s))) for s in range(400)]
    assert abs(np.mean(traces)) < 0.15


def test_identity_and_recurrent_matrix():
    np.testing.assert_array_equal(init.identity(3), np.eye(3))
    rng = np.random.default_rng(0)
    assert init.spectral_radius(init.recurrent_matrix(5, "radius", rng, radius=1.3)) == (
        pytest.approx(1.3, abs=1e-10)
    )
    np.testing.assert_array_equal(init.recurrent_matrix(4, "identity", radius=0.5), 0.5 * np.eye(4))
    with pytest.raises(ValueError, match="method must be one of"):
        init.recurrent_matrix(4, "xavier", rng)


def test_init_params_numpy_dict():
    params = rnn.init_params(3, 6, np.random.default_rng(0))
    before = {k: v.copy() for k, v in params.items()}
    irnn = init.init_params(params, "identity")
    np.testing.assert_array_equal(irnn["W_hh"], np.eye(6))
    assert not irnn["b_ih"].any() and not irnn["b_hh"].any()
    np.testing.assert_array_equal(irnn["W_ih"], params["W_ih"])
    for k in params:  # the input is not modified
        np.testing.assert_array_equal(params[k], before[k])
    scaled = init.init_params(params, "radius", radius=0.7)
    assert abs(init.spectral_radius(scaled["W_hh"]) - 0.7) < 1e-10
    np.testing.assert_array_equal(scaled["b_ih"], params["b_ih"])  # biases kept by default


@pytest.mark.parametrize("cls, G", [(torch.nn.RNN, 1), (torch.nn.GRU, 3), (torch.nn.LSTM, 4)])
def test_init_torch_sets_every_block(cls, G):
    H = 5
    module = cls(2, H).double()
    init.init_torch_(module, "orthogonal", np.random.default_rng(0))
    W = params_from_torch(module)["W_hh"]
    assert W.shape == (G * H, H)
    for k in range(G):
        block = W[k * H : (k + 1) * H]
        np.testing.assert_allclose(block.T @ block, np.eye(H), atol=1e-12)


def test_init_torch_matches_numpy_from_the_same_seed():
    module = torch.nn.RNN(2, 4).double()
    params = params_from_torch(module)
    init.init_torch_(module, "radius", radius=1.1)
    ref = init.init_params(params, "radius", radius=1.1)
    np.testing.assert_allclose(params_from_torch(module)["W_hh"], ref["W_hh"], rtol=1e-12)


def _biases(module):
    """The summed biases b_ih + b_hh of each layer and direction, by name."""
    params = dict(module.named_parameters())
    return {
        n: (p + params[n.replace("bias_ih", "bias_hh")]).detach()
        for n, p in params.items()
        if n.rsplit(".", 1)[-1].startswith("bias_ih")
    }


@pytest.mark.parametrize(
    "make, family",
    [
        (lambda: torch.nn.LSTM(2, 5), "lstm"),
        (lambda: torch.nn.GRU(2, 5), "gru"),
        (lambda: torch.nn.LSTM(2, 5, num_layers=2, bidirectional=True), "lstm"),
        (lambda: SequenceModel(2, 5, 1, "lstm"), "lstm"),
        (lambda: cnn.LSTM(2, 5), "lstm"),
        (lambda: cnn.GRU(2, 5), "gru"),
        (lambda: cnn.GRUCell(2, 5), "gru"),
        (lambda: cnn.Stacked(cnn.GRU, 2, 5, num_layers=2), "gru"),
    ],
)
def test_memory_bias_sets_the_gate_that_keeps_the_state(make, family):
    torch.manual_seed(0)
    module = make()
    before = _biases(getattr(module, "encoder", module))
    assert init.set_memory_bias_(module, 3.0) is module
    after = _biases(getattr(module, "encoder", module))
    H, blocks = 5, families.get(family).blocks
    keeps = blocks.index("f" if family == "lstm" else "z")  # torch's order: i f g o, r z n
    assert keeps == 1 and len(after) == len(before) >= 1
    for name, total in after.items():
        assert total.shape == (len(blocks) * H,)
        torch.testing.assert_close(total[H : 2 * H], torch.full((H,), 3.0))
        others = torch.cat([total[:H], total[2 * H :]])
        torch.testing.assert_close(others, torch.cat([before[name][:H], before[name][2 * H :]]))
    params = dict(getattr(module, "encoder", module).named_parameters())
    for name in after:
        assert (params[name.replace("bias_ih", "bias_hh")][H : 2 * H] == 0).all()


def test_memory_bias_keeps_the_state_in_torch_convention():
    """A large update bias (and zero z weights) makes torch.nn.GRU copy its state: z is the
    fraction kept, h = (1 - z) n + z h_prev."""
    gru = init.set_memory_bias_(torch.nn.GRU(2, 3).double(), 40.0)
    with torch.no_grad():
        gru.weight_ih_l0[3:6] = gru.weight_hh_l0[3:6] = 0.0
        h0 = torch.randn(1, 4, 3, dtype=torch.float64)
        out, _ = gru(torch.randn(5, 4, 2, dtype=torch.float64), h0)
    torch.testing.assert_close(out, h0.expand(5, 4, 3))


def test_memory_bias_through_for_task():
    task = type("Task", (), {"input_size": 3, "output_size": 2, "readout": "last"})
    model = SequenceModel.for_task(task, "gru", 4, memory_bias=2.0)
    total = model.encoder.bias_ih_l0 + model.encoder.bias_hh_l0
    torch.testing.assert_close(total[4:8].detach(), torch.full((4,), 2.0))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: init.set_memory_bias_(torch.nn.RNN(2, 3), 1.0), ValueError, r"1 block\(s\)"),
        (lambda: init.set_memory_bias_(torch.nn.Linear(2, 3), 1.0), TypeError, "got Linear"),
        (lambda: init.set_memory_bias_(3, 1.0), TypeError, "torch.nn.Module; got int"),
        (lambda: init.set_memory_bias_(torch.nn.GRU(2, 3), "3"), TypeError, "value must be"),
        (lambda: init.set_memory_bias_(torch.nn.GRU(2, 3), np.inf), ValueError, "value must"),
    ],
)
def test_memory_bias_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: init.scale_to_radius(np.ones((2, 3)), 1.0), ValueError, r"square.*\(2, 3\)"),
        (lambda: init.scale_to_radius([[1.0]], 1.0), TypeError, "numpy array"),
        (lambda: init.scale_to_radius(np.eye(2), -1.0), ValueError, "radius"),
        (lambda: init.scale_to_radius(np.triu(np.ones((3, 3)), 1), 1.0), ValueError, "nilpotent"),
        (lambda: init.orthogonal(0, np.random.default_rng(0)), ValueError, "H must be"),
        (lambda: init.orthogonal(2.0, np.random.default_rng(0)), TypeError, "H must be an int"),
        (lambda: init.identity(True), TypeError, "H must be an integer; got bool"),
        (lambda: init.recurrent_matrix(3, "xavier"), ValueError, "method must be one of"),
        (lambda: init.orthogonal(3, 0), TypeError, "Generator"),
        (lambda: init.init_torch_(torch.nn.Linear(2, 2), "identity"), TypeError, "RNN, GRU"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
