"""The torch LSTM written from the equations loads torch.nn.LSTM's weights and matches it."""

import pytest
import torch

from companion.nn import LSTM, LSTMCell

SHAPES = [(1, 1, 1, 1), (1, 2, 3, 4), (5, 3, 2, 1), (8, 2, 3, 5)]  # (T, B, D, H)
ids = lambda s: "T{}-B{}-D{}-H{}".format(*s)  # noqa: E731
CLOSE = {"rtol": 1e-6, "atol": 1e-12}


def _pair(shape, seed=0):
    T, B, D, H = shape
    torch.manual_seed(seed)
    theirs = torch.nn.LSTM(D, H).double()
    ours = LSTM(D, H, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _run(module, x, state, w_seq, w_h, w_c):
    x = x.clone().requires_grad_(True)
    state = tuple(s.clone().requires_grad_(True) for s in state)
    out, (h_n, c_n) = module(x, state)
    ((out * w_seq).sum() + (h_n * w_h).sum() + (c_n * w_c).sum()).backward()
    grads = {name: p.grad for name, p in module.named_parameters()}
    return out, h_n, c_n, x.grad, state[0].grad, state[1].grad, grads


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_matches_torch_outputs_state_and_gradients(shape):
    T, B, D, H = shape
    ours, theirs = _pair(shape)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(T, B, D, generator=g, dtype=torch.float64)
    state = tuple(torch.randn(1, B, H, generator=g, dtype=torch.float64) for _ in range(2))
    weights = [torch.randn(T, B, H, generator=g, dtype=torch.float64)] + [
        torch.randn(1, B, H, generator=g, dtype=torch.float64) for _ in range(2)
    ]
    a = _run(ours, x, state, *weights)
    b = _run(theirs, x, state, *weights)
    for name, u, v in zip(["h_seq", "h_n", "c_n", "dx", "dh0", "dc0"], a[:6], b[:6], strict=True):
        assert u.shape == v.shape, name
        torch.testing.assert_close(u, v, **CLOSE, msg=name)
    assert sorted(a[6]) == sorted(b[6]) == sorted(theirs.state_dict())
    for name in b[6]:
        torch.testing.assert_close(a[6][name], b[6][name], **CLOSE, msg=name)


def test_zero_state_by_default_and_state_dict_round_trip():
    ours, theirs = _pair((6, 2, 3, 4))
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    out, (h_n, c_n) = ours(x)
    ref, (ref_h, ref_c) = theirs(x)
    torch.testing.assert_close(out, ref, **CLOSE)
    assert h_n.shape == c_n.shape == (1, 2, 4)
    torch.testing.assert_close(out[-1], h_n[0], rtol=0, atol=0)
    theirs.load_state_dict(LSTM(3, 4, forget_bias=1.0).double().state_dict())  # and back


def test_cell_matches_torch_lstm_cell():
    torch.manual_seed(0)
    theirs = torch.nn.LSTMCell(3, 4).double()
    ours = LSTMCell(3, 4).double()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, dtype=torch.float64)
    state = (torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64))
    for u, v in zip(ours(x, state), theirs(x, state), strict=True):
        torch.testing.assert_close(u, v, **CLOSE)
    torch.testing.assert_close(ours(x)[1], theirs(x)[1], **CLOSE)


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
    torch.manual_seed(3)
    base = LSTM(2, 5)
    torch.manual_seed(3)
    biased = LSTM(2, 5, forget_bias=1.0)
    delta = biased.bias_ih_l0 - base.bias_ih_l0
    expected = torch.zeros(20)
    expected[5:10] = 1.0
    torch.testing.assert_close(delta, expected)
    torch.testing.assert_close(biased.bias_hh_l0, base.bias_hh_l0, rtol=0, atol=0)
    assert float(base.weight_hh_l0.detach().abs().max()) <= 5**-0.5
    assert "forget_bias=1.0" in repr(biased)


@pytest.mark.parametrize("ours, theirs", [(LSTM, torch.nn.LSTM), (LSTMCell, torch.nn.LSTMCell)])
def test_same_seed_gives_the_same_weights_as_torch(ours, theirs):
    torch.manual_seed(7)
    a = ours(3, 4).state_dict()
    torch.manual_seed(7)
    b = theirs(3, 4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b)


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
    x = torch.randn(5, 2, 3)
    h0 = torch.zeros(1, 2, 4)
    with pytest.raises(TypeError, match=r"torch.Tensor of shape \(T, B, D\).*got ndarray"):
        model(x.numpy())
    with pytest.raises(ValueError, match=r"\(T, B, D\), time-major with D=3; got \(2, 3\)"):
        model(x[0])
    with pytest.raises(ValueError, match=r"D=3; got \(5, 2, 4\)"):
        model(torch.randn(5, 2, 4))
    with pytest.raises(TypeError, match="dtype torch.float64 but the parameters are torch.float32"):
        model(x.double())
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
