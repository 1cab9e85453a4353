"""The torch LSTM written from the equations loads torch.nn.LSTM's weights and matches it."""

import _torch_parity as parity
import pytest
import torch

from companion.nn import LSTM, LSTMCell


@pytest.mark.parametrize("shape", parity.SHAPES, ids=parity.ids)
def test_matches_torch_outputs_state_and_gradients(shape):
    parity.assert_matches_torch(LSTM, torch.nn.LSTM, shape, state="hc")


def test_zero_state_by_default_and_state_dict_round_trip():
    parity.assert_zero_state_by_default_and_round_trip(
        LSTM, torch.nn.LSTM, state="hc", forget_bias=1.0
    )


def test_cell_matches_torch_lstm_cell():
    parity.assert_cell_matches_torch(LSTMCell, torch.nn.LSTMCell, state="hc")


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


def test_forget_bias_sets_the_f_block():
    parity.assert_bias_sets_the_second_block(LSTM, "forget_bias", 1.0, size=20)


@pytest.mark.parametrize("ours, theirs", [(LSTM, torch.nn.LSTM), (LSTMCell, torch.nn.LSTMCell)])
def test_same_seed_gives_the_same_weights_as_torch(ours, theirs):
    parity.assert_same_seed_gives_the_same_weights(ours, theirs)


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


def test_bad_input():
    model = LSTM(3, 4)
    parity.assert_bad_input_is_reported(model)
    x = torch.randn(5, 2, 3)
    h0 = torch.zeros(1, 2, 4)
    with pytest.raises(TypeError, match=r"pair \(h, c\).*single tensor of shape \(1, 2, 4\)"):
        model(x, h0)
    with pytest.raises(ValueError, match=r"state c must have shape \(1, 2, 4\); got \(2, 4\)"):
        model(x, (h0, h0[0]))
    with pytest.raises(TypeError, match="state h must be a torch.Tensor"):
        model(x, (None, h0))
    with pytest.raises(ValueError, match="hidden_size must be a positive integer; got 0"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match=r"input must have shape \(B, D\) with D=3"):
        LSTMCell(3, 4)(x)
