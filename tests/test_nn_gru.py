"""The GRU's own behaviour: its gates, both reset forms, variants of one method, its state
checks (the parity with torch.nn.GRU and GRUCell is in tests/test_nn_base.py)."""

import _torch_parity as parity
import numpy as np
import pytest
import torch

from companion.nn import GRU
from companion.ref import gru


def test_return_gates():
    torch.manual_seed(0)
    model = GRU(2, 3, update_bias=1.0)
    x = torch.randn(7, 4, 2) * 3
    out, h_n, gates = model(x, return_gates=True)
    assert sorted(gates) == ["n", "r", "z"]
    for k, v in gates.items():
        assert v.shape == (7, 4, 3), k
    for k in "rz":
        assert bool(((gates[k] > 0) & (gates[k] < 1)).all()), k
    assert bool((gates["n"].abs() < 1).all())
    h_prev = torch.cat([torch.zeros(1, 4, 3), out[:-1]])
    torch.testing.assert_close(out, (1 - gates["z"]) * gates["n"] + gates["z"] * h_prev)
    same, _ = model(x)
    torch.testing.assert_close(same, out, rtol=0, atol=0)


@pytest.mark.parametrize("reset", ["after", "before"])
def test_both_reset_forms_match_the_numpy_reference(reset):
    torch.manual_seed(2)
    model = GRU(3, 5, reset=reset, update_bias=0.5, dtype=torch.float64)
    names = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0"}
    names["b_hh"] = "bias_hh_l0"
    params = {k: getattr(model, name).detach().numpy().copy() for k, name in names.items()}
    rng = np.random.default_rng(0)
    x, h0 = rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 5))
    h_seq, h_T, cache = gru.forward(x, h0, params, reset=reset)
    out, h_n, gates = model(torch.from_numpy(x), torch.from_numpy(h0[None]), return_gates=True)
    np.testing.assert_allclose(out.detach().numpy(), h_seq, **parity.CLOSE)
    np.testing.assert_allclose(h_n[0].detach().numpy(), h_T, **parity.CLOSE)
    for k in "rzn":
        np.testing.assert_allclose(gates[k].detach().numpy(), cache["gates"][k], **parity.CLOSE)


def test_reset_before_differs_from_torch():
    _, theirs = parity.pair(GRU, torch.nn.GRU, (8, 4, 3, 6), seed=3)
    before = GRU(3, 6, reset="before", dtype=torch.float64)
    before.load_state_dict(theirs.state_dict())
    x = torch.randn(8, 4, 3, dtype=torch.float64)
    with torch.no_grad():
        assert float((before(x)[0] - theirs(x)[0]).abs().max()) > 1e-3
    assert "reset='before'" in repr(before)


class NoResetGRU(GRU):
    """A variant overriding one method: the candidate without a reset gate."""

    def candidate(self, ax, ah, h_prev, gates):
        return torch.tanh(self.block(ax, "n") + self.block(ah, "n"))


def test_a_variant_overrides_one_method():
    torch.manual_seed(0)
    model = NoResetGRU(2, 3)
    with torch.no_grad():
        model.bias_ih_l0[:3] = -50.0  # r = 0 would silence W_hn in torch's GRU, not here
    x = torch.randn(4, 2, 2)
    out, _, gates = model(x, return_gates=True)
    h = torch.zeros(2, 3)
    H = 3
    for t in range(4):
        n = torch.tanh(
            x[t] @ model.weight_ih_l0[2 * H :].T
            + model.bias_ih_l0[2 * H :]
            + h @ model.weight_hh_l0[2 * H :].T
            + model.bias_hh_l0[2 * H :]
        )
        h = (1 - gates["z"][t]) * n + gates["z"][t] * h
    torch.testing.assert_close(out[-1], h)


class OneGate(GRU):
    """Zhou et al. (2016): one gate f as both reset and update, h = (1 - f) h_prev + f n."""

    blocks = ("f", "n")
    bias_block = "f"  # update_bias goes to f: z has no block here

    def gates(self, ax, ah):
        f = torch.sigmoid(self.block(ax, "f") + self.block(ah, "f"))
        return {"r": f, "z": 1 - f}


def test_a_variant_with_two_blocks():
    torch.manual_seed(0)
    model = OneGate(2, 3, reset="before").double()
    assert model.weight_hh_l0.shape == (6, 3) and model.bias_ih_l0.shape == (6,)
    x = torch.randn(5, 4, 2, dtype=torch.float64)
    out, h_n = model(x)
    W_ih, W_hh, b_ih, b_hh = (p.detach() for p in model.parameters())
    h = torch.zeros(4, 3, dtype=torch.float64)
    for t in range(5):
        f = torch.sigmoid(x[t] @ W_ih[:3].T + b_ih[:3] + h @ W_hh[:3].T + b_hh[:3])
        n = torch.tanh(x[t] @ W_ih[3:].T + b_ih[3:] + (f * h) @ W_hh[3:].T + b_hh[3:])
        h = (1 - f) * h + f * n
    torch.testing.assert_close(h_n[0], h)
