"""The LSTM's own behaviour: its gates, a variant of one method, its state checks (the
parity with torch.nn.LSTM and LSTMCell is in tests/test_nn_base.py, with the other families)."""

import torch

from companion.nn import LSTM, LSTMCell


def test_return_gates():
    torch.manual_seed(0)
    model = LSTM(2, 3, forget_bias=1.0)
    x = torch.randn(7, 4, 2) * 3
    out, (h_n, c_n), gates = model(x, return_gates=True)
    assert sorted(gates) == ["c", "f", "g", "i", "o"]
    for k, v in gates.items():
        assert v.shape == (7, 4, 3), k
    for k in "ifo":
        assert bool(((gates[k] > 0) & (gates[k] < 1)).all()), k
    assert bool((gates["g"].abs() < 1).all())
    torch.testing.assert_close(out, gates["o"] * torch.tanh(gates["c"]))
    torch.testing.assert_close(gates["c"][-1], c_n[0], rtol=0, atol=0)
    same, _ = model(x)
    torch.testing.assert_close(same, out, rtol=0, atol=0)


class CoupledGates(LSTM):
    """A variant overriding one method: the input gate tied to the forget gate, i = 1 - f."""

    def cell_update(self, gates, c_prev):
        return gates["f"] * c_prev + (1 - gates["f"]) * gates["g"]


def test_a_variant_overrides_one_method():
    torch.manual_seed(0)
    model = CoupledGates(2, 3)
    x = torch.randn(4, 2, 2)
    _, (_, c_n), gates = model(x, return_gates=True)
    c = torch.zeros(2, 3)
    for t in range(4):
        c = gates["f"][t] * c + (1 - gates["f"][t]) * gates["g"][t]
    torch.testing.assert_close(c_n[0], c)


def test_cell_returns_the_gates_of_the_layers_first_step():
    torch.manual_seed(0)
    layer = LSTM(3, 4)
    cell = LSTMCell(3, 4)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = torch.randn(5, 2, 3)
    _, _, gates = layer(x, return_gates=True)
    (h, c), cell_gates = cell(x[0], return_gates=True)
    assert sorted(cell_gates) == ["f", "g", "i", "o"]
    for k in cell_gates:
        torch.testing.assert_close(cell_gates[k], gates[k][0])
    torch.testing.assert_close(c, gates["c"][0])
