"""minGRU's update convention: Chung et al.'s (z_t near 1 writes), the opposite of torch's GRU.

Chapter 6 and ``companion.nn.minimal`` name the convention; these tests pin it down, in both
forms of the module, against ``torch.nn.GRU``'s (z_t near 1 keeps the state).
"""

import pytest
import torch

from companion.nn import MinGRU
from companion.nn.minimal import g

F64 = {"dtype": torch.float64}
T, B, D, H = 6, 2, 3, 4


def _x():
    return torch.randn(T, B, D, generator=torch.Generator().manual_seed(0), **F64)


def _min_gru_with_update_bias(bias):
    torch.manual_seed(0)
    m = MinGRU(D, H, **F64)
    with torch.no_grad():
        m.bias_ih_l0[:H] = bias  # block z; sigma(40) == 1 in float64
    return m


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_min_gru_update_gate_near_one_writes_the_candidate(mode):
    m, x = _min_gru_with_update_bias(40.0), _x()
    h0 = torch.full((1, B, H), 0.5, **F64)
    W_n, b_n = m.weight_ih_l0[H:], m.bias_ih_l0[H:]
    with torch.no_grad():
        h_seq, _ = m(x, h0, mode=mode)
        torch.testing.assert_close(h_seq, g(x @ W_n.T + b_n))


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_min_gru_update_gate_near_zero_keeps_the_state(mode):
    m, x = _min_gru_with_update_bias(-40.0), _x()
    h0 = torch.full((1, B, H), 0.5, **F64)
    with torch.no_grad():
        h_seq, _ = m(x, h0, mode=mode)
    torch.testing.assert_close(h_seq, h0.expand(T, B, H))


def test_torch_gru_update_gate_near_one_keeps_the_state():
    # the contrast the chapter states: in PyTorch's convention z_t near 1 keeps h_{t-1}
    torch.manual_seed(0)
    gru = torch.nn.GRU(D, H).double()
    with torch.no_grad():
        gru.bias_ih_l0[H : 2 * H] = 40.0  # block z of r, z, n
        h0 = torch.full((1, B, H), 0.5, **F64)
        h_seq, _ = gru(_x(), h0)
    torch.testing.assert_close(h_seq, h0.expand(T, B, H))
