"""minGRU and minLSTM: the log-space scan equals the loop; the GRU variants reduce to the GRU."""

import pytest
import torch
from torch.func import functional_call

from companion.nn import GRU, GateSimplifiedGRU, MinGRU, MinimalGatedUnit, MinLSTM
from companion.nn.minimal import g, linear_scan, log_g, log_scan

F64 = {"dtype": torch.float64}
MIN_UNITS = [MinGRU, MinLSTM]


def _x(T, B=2, D=3, seed=0):
    return torch.randn(T, B, D, generator=torch.Generator().manual_seed(seed), **F64)


@pytest.mark.parametrize("cls", MIN_UNITS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("T", [1, 2, 7, 64, 1024])
@pytest.mark.parametrize("with_h0", [False, True])
def test_parallel_equals_sequential(cls, T, with_h0):
    torch.manual_seed(T)
    m = cls(3, 4, **F64)
    x = _x(T)
    h0 = torch.rand(1, 2, 4, **F64) + 0.1 if with_h0 else None
    par, h_par = m(x, h0, mode="parallel")
    seq, h_seq = m(x, h0, mode="sequential")
    assert par.shape == (T, 2, 4) and h_par.shape == (1, 2, 4)
    torch.testing.assert_close(par, seq, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(h_par, h_seq, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("cls", MIN_UNITS, ids=lambda c: c.__name__)
def test_gradients_of_both_forms_agree(cls):
    torch.manual_seed(0)
    m = cls(3, 4, **F64)
    x = _x(50)
    w = torch.randn(50, 2, 4, **F64)
    grads = []
    for mode in ("parallel", "sequential"):
        m.zero_grad()
        (m(x, mode=mode)[0] * w).sum().backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("cls", MIN_UNITS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_gradcheck(cls, mode):
    torch.manual_seed(0)
    m = cls(2, 3, **F64)
    names = [n for n, _ in m.named_parameters()]
    h0 = torch.rand(1, 2, 3, **F64) + 0.2

    def f(x, h0, *params):
        return functional_call(m, dict(zip(names, params, strict=True)), (x, h0, mode))[0]

    args = [t.clone().requires_grad_(True) for t in (_x(4, 2, 2), h0, *m.parameters())]
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7)


def test_min_gru_follows_the_paper():
    torch.manual_seed(0)
    m = MinGRU(3, 4, **F64)
    x = _x(6)
    W_z, W_n = m.weight_ih_l0.chunk(2)
    b_z, b_n = m.bias_ih_l0.chunk(2)
    h = torch.zeros(2, 4, **F64)
    for t in range(6):
        z = torch.sigmoid(x[t] @ W_z.T + b_z)
        h = (1 - z) * h + z * g(x[t] @ W_n.T + b_n)
    torch.testing.assert_close(m(x)[0][-1], h)


def test_min_lstm_follows_the_paper():
    torch.manual_seed(0)
    m = MinLSTM(3, 4, **F64)
    x = _x(6)
    (W_i, W_f, W_g), (b_i, b_f, b_g) = m.weight_ih_l0.chunk(3), m.bias_ih_l0.chunk(3)
    h = torch.zeros(2, 4, **F64)
    for t in range(6):
        i, f = torch.sigmoid(x[t] @ W_i.T + b_i), torch.sigmoid(x[t] @ W_f.T + b_f)
        h = f / (f + i) * h + i / (f + i) * g(x[t] @ W_g.T + b_g)
    torch.testing.assert_close(m(x)[0][-1], h)


def test_g_is_positive_continuous_and_log_g_is_its_log():
    v = torch.linspace(-30, 30, 601, **F64)
    assert (g(v) > 0).all()
    torch.testing.assert_close(log_g(v), torch.log(g(v)))
    assert abs(g(torch.tensor(0.0)) - g(torch.tensor(-1e-9))) < 1e-8


def test_log_scan_equals_linear_scan_on_positive_coefficients():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(300, 2, 3, generator=gen, **F64)
    b = torch.rand(300, 2, 3, generator=gen, **F64)
    h0 = torch.rand(2, 3, generator=gen, **F64)
    torch.testing.assert_close(log_scan(a.log(), b.log(), h0.log()), linear_scan(a, b, h0))
    torch.testing.assert_close(log_scan(a.log(), b.log()), linear_scan(a, b))


def test_bad_inputs_raise():
    m = MinGRU(3, 4)
    with pytest.raises(ValueError, match="mode must be one of"):
        MinGRU(3, 4, mode="fast")
    with pytest.raises(ValueError, match="mode must be one of"):
        m(torch.randn(5, 2, 3), mode="fast")
    with pytest.raises(ValueError, match="h0 > 0"):
        m(torch.randn(5, 2, 3), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"time-major with D=3; got \(5, 2, 2\)"):
        m(torch.randn(5, 2, 2))
    with pytest.raises(ValueError, match=r"state must have shape \(1, 2, 4\); got \(2, 4\)"):
        m(torch.randn(5, 2, 3), torch.ones(2, 4))
    m(torch.randn(5, 2, 3), -torch.ones(1, 2, 4), mode="sequential")  # any h0 in the loop


def test_linear_scan_refuses_an_empty_sequence():
    with pytest.raises(ValueError, match="T = 0 steps"):
        linear_scan(torch.ones(0, 2, 3), torch.ones(0, 2, 3), torch.ones(2, 3))


# --- GRU variants ---------------------------------------------------------------------------
H = 3


def _rows(p, k):
    return p[k * H : (k + 1) * H]


def test_minimal_gated_unit_is_a_gru_with_z_equal_to_one_minus_r():
    """sigmoid(-a) = 1 - sigmoid(a): a GRU (reset='before') whose z rows are minus its r rows."""
    torch.manual_seed(0)
    mgu = MinimalGatedUnit(2, H, **F64)
    gru = GRU(2, H, reset="before", **F64)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            f, n = getattr(mgu, name).chunk(2)
            getattr(gru, name).copy_(torch.cat([f, -f, n]))
    x, h0 = _x(5, 2, 2), torch.randn(1, 2, H, **F64)
    torch.testing.assert_close(mgu(x, h0), gru(x, h0), rtol=1e-12, atol=1e-14)
    assert (
        sum(p.numel() for p in mgu.parameters()) * 3 == sum(p.numel() for p in gru.parameters()) * 2
    )


@pytest.mark.parametrize("form", [1, 2, 3])
def test_gate_simplified_gru_is_the_gru_without_the_dropped_terms(form):
    torch.manual_seed(form)
    ours = GateSimplifiedGRU(2, H, form=form, **F64)
    gru = GRU(2, H, **F64)
    gru.load_state_dict(ours.state_dict())
    with torch.no_grad():
        for k in (0, 1):  # the gate rows r, z
            _rows(gru.weight_ih_l0, k).zero_()
            if form >= 2:
                _rows(gru.bias_ih_l0, k).zero_()
                _rows(gru.bias_hh_l0, k).zero_()
            if form == 3:
                _rows(gru.weight_hh_l0, k).zero_()
                _rows(gru.bias_ih_l0, k).copy_(
                    _rows(ours.bias_ih_l0, k) + _rows(ours.bias_hh_l0, k)
                )
    x, h0 = _x(5, 2, 2), torch.randn(1, 2, H, **F64)
    torch.testing.assert_close(ours(x, h0), gru(x, h0), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "make", [lambda: MinimalGatedUnit(2, H, **F64), lambda: GateSimplifiedGRU(2, H, 2, **F64)]
)
def test_gru_variants_gradcheck(make):
    torch.manual_seed(0)
    m = make()
    names = [n for n, _ in m.named_parameters()]

    def f(x, h0, *params):
        return functional_call(m, dict(zip(names, params, strict=True)), (x, h0))[0]

    args = [t.clone().requires_grad_(True) for t in (_x(3, 2, 2), torch.randn(1, 2, H, **F64))]
    args += [p.detach().clone().requires_grad_(True) for p in m.parameters()]
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7)


def test_gate_simplified_gru_rejects_unknown_form():
    with pytest.raises(ValueError, match="form"):
        GateSimplifiedGRU(2, 3, form=4)
