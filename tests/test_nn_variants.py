"""The LSTM variants run, pass gradcheck, and reduce to chapter 4's LSTM with their change off."""

import pytest
import torch
from torch.func import functional_call

from companion.nn import LSTM, VARIANTS, lstm_variant
from companion.nn.variants import PeepholeLSTM

T, B, D, H = 3, 2, 2, 3
F64 = {"dtype": torch.float64}


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, D, generator=g, **F64)
    h0, c0 = (torch.randn(1, B, H, generator=g, **F64) for _ in range(2))
    return x, (h0, c0)


def _pair(name, seed=0):
    """A variant and chapter 4's LSTM with the same shared weights."""
    torch.manual_seed(seed)
    ours = lstm_variant(name, D, H, **F64)
    base = LSTM(D, H, **F64)
    base.load_state_dict(ours.state_dict(), strict=False)
    return ours, base


def _block(p, k):
    return p[k * H : (k + 1) * H]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_forward_backward_shapes(name):
    torch.manual_seed(0)
    m = lstm_variant(name, 4, 5)
    x = torch.randn(6, 3, 4, requires_grad=True)
    out, (h_n, c_n), gates = m(x, return_gates=True)
    assert out.shape == (6, 3, 5) and h_n.shape == c_n.shape == (1, 3, 5)
    assert set(gates) == {"i", "f", "g", "o", "c"}
    (out.sum() + c_n.sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("name", list(VARIANTS))
def test_gradcheck_inputs_state_and_parameters(name):
    torch.manual_seed(1)
    m = lstm_variant(name, D, H, **F64)
    names = [n for n, _ in m.named_parameters()]
    x, (h0, c0) = _inputs()

    def f(x, h0, c0, *params):
        out, (h_n, c_n) = functional_call(m, dict(zip(names, params, strict=True)), (x, (h0, c0)))
        return out, c_n

    args = [t.clone().requires_grad_(True) for t in (x, h0, c0, *m.parameters())]
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["NP", "V", "NIG", "NFG", "NOG", "NIAF", "NOAF", "CIFG", "FGR"])
def test_loads_torch_lstm_state_dict(name):
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(D, H).double()
    ours = lstm_variant(name, D, H, **F64)
    missing, unexpected = ours.load_state_dict(theirs.state_dict(), strict=False)
    assert not unexpected and set(missing) <= {"weight_peephole_l0", "weight_gate_l0"}


@pytest.mark.parametrize("name", ["V", "FGR"])
def test_extra_weights_at_zero_give_the_lstm(name):
    ours, base = _pair(name)
    with torch.no_grad():
        for n in ("weight_peephole_l0", "weight_gate_l0"):
            if hasattr(ours, n):
                getattr(ours, n).zero_()
    x, state = _inputs()
    torch.testing.assert_close(ours(x, state), base(x, state), rtol=0, atol=0)


def test_peepholes_change_the_output_when_nonzero():
    ours, base = _pair("V")
    x, state = _inputs()
    assert not torch.allclose(ours(x, state)[0], base(x, state)[0])


@pytest.mark.parametrize(("name", "k"), [("NIG", 0), ("NFG", 1), ("NOG", 3)])
def test_removed_gate_is_the_lstm_with_that_gate_held_open(name, k):
    """sigmoid(40) is 1 in float64: an LSTM whose gate block has zero weights and bias 40."""
    ours, base = _pair(name)
    with torch.no_grad():
        for p in (base.W_ih, base.W_hh, base.b_hh):
            _block(p, k).zero_()
        _block(base.b_ih, k).fill_(40.0)
    x, state = _inputs()
    torch.testing.assert_close(ours(x, state), base(x, state), rtol=1e-14, atol=1e-15)


def test_cifg_is_the_lstm_with_input_rows_minus_forget_rows():
    """sigmoid(-a) = 1 - sigmoid(a): i = 1 - f when the i block is minus the f block."""
    ours, base = _pair("CIFG")
    with torch.no_grad():
        for p in (base.W_ih, base.W_hh, base.b_ih, base.b_hh):
            _block(p, 0).copy_(-_block(p, 1))
    x, state = _inputs()
    torch.testing.assert_close(ours(x, state), base(x, state), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["NIAF", "NOAF"])
def test_activation_variants_follow_their_equations(name):
    m, _ = _pair(name)
    x, (h, c) = _inputs()
    h, c = h[0], c[0]
    W_ih, W_hh, b = m.W_ih, m.W_hh, m.b_ih + m.b_hh
    for t in range(T):
        a_i, a_f, a_g, a_o = (x[t] @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=-1)
        g = a_g if name == "NIAF" else torch.tanh(a_g)
        c = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * g
        h = torch.sigmoid(a_o) * (c if name == "NOAF" else torch.tanh(c))
    out, (h_n, c_n) = m(x, _inputs()[1])
    torch.testing.assert_close(h_n[0], h)
    torch.testing.assert_close(c_n[0], c)


def test_peephole_follows_its_equations():
    m, _ = _pair("V")
    x, (h, c) = _inputs()
    h, c = h[0], c[0]
    p_i, p_f, p_o = m.weight_peephole_l0.chunk(3)
    for t in range(T):
        a_i, a_f, a_g, a_o = (x[t] @ m.W_ih.T + h @ m.W_hh.T + m.b_ih + m.b_hh).chunk(4, dim=-1)
        c = torch.sigmoid(a_f + p_f * c) * c + torch.sigmoid(a_i + p_i * c) * torch.tanh(a_g)
        h = torch.sigmoid(a_o + p_o * c) * torch.tanh(c)
    torch.testing.assert_close(m(x, _inputs()[1])[0][-1], h)


def test_fgr_reads_the_previous_gates():
    ours, base = _pair("FGR")
    x, state = _inputs()
    out_fgr, out_base = ours(x, state)[0], base(x, state)[0]
    torch.testing.assert_close(out_fgr[0], out_base[0])  # u_0 = 0: the first step is the LSTM's
    assert not torch.allclose(out_fgr[1:], out_base[1:])


def test_bad_variant_name_raises():
    with pytest.raises(ValueError, match="NIG"):
        lstm_variant("no-such-variant", 2, 3)


def test_peephole_is_greffs_vanilla():
    assert VARIANTS["V"] is PeepholeLSTM and VARIANTS["NP"] is LSTM
