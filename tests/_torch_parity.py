"""The torch-parity harness that tests/test_nn_lstm.py and tests/test_nn_gru.py share.

``state`` names the recurrent state as the module takes it: "hc" for the LSTM's pair (h, c),
"h" for the GRU's single tensor h. A sequence module takes and returns each state tensor as
(1, B, H), a cell as (B, H); torch's module is the oracle, in float64.
"""

import pytest
import torch

SHAPES = [(1, 1, 1, 1), (1, 2, 3, 4), (5, 3, 2, 1), (8, 2, 3, 5)]  # (T, B, D, H)
CLOSE = {"rtol": 1e-6, "atol": 1e-12}


def ids(shape):
    return "T{}-B{}-D{}-H{}".format(*shape)


def pair(ours_cls, theirs_cls, shape, seed=0):
    """Torch's sequence module, seeded, and ours with its ``state_dict``, both float64."""
    T, B, D, H = shape
    torch.manual_seed(seed)
    theirs = theirs_cls(D, H).double()
    ours = ours_cls(D, H, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _pack(tensors: list, state: str):
    """The state as the module takes it: one tensor for "h", a tuple for "hc"."""
    return tensors[0] if len(state) == 1 else tuple(tensors)


def _unpack(s, state: str) -> list:
    """The state as a list of tensors, one per letter of ``state``."""
    s = [s] if isinstance(s, torch.Tensor) else list(s)
    assert len(s) == len(state)
    return s


def _run(module, x, s0, w_seq, w_n, state):
    """Forward with a state, backward of a weighted sum of h_seq and the final state."""
    x = x.clone().requires_grad_(True)
    s0 = [s.clone().requires_grad_(True) for s in s0]
    out, s_n = module(x, _pack(s0, state))
    s_n = _unpack(s_n, state)
    loss = (out * w_seq).sum()
    for s, w in zip(s_n, w_n, strict=True):
        loss = loss + (s * w).sum()
    loss.backward()
    grads = {name: p.grad for name, p in module.named_parameters()}
    return [out, *s_n, x.grad, *(s.grad for s in s0)], grads


def assert_matches_torch(ours_cls, theirs_cls, shape, state):
    """Same weights in: the same h_seq, final state, and gradients for x, the initial state
    and every parameter."""
    T, B, D, H = shape
    ours, theirs = pair(ours_cls, theirs_cls, shape)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(T, B, D, generator=g, dtype=torch.float64)
    s0 = [torch.randn(1, B, H, generator=g, dtype=torch.float64) for _ in state]
    w_seq = torch.randn(T, B, H, generator=g, dtype=torch.float64)
    w_n = [torch.randn(1, B, H, generator=g, dtype=torch.float64) for _ in state]
    a, a_grads = _run(ours, x, s0, w_seq, w_n, state)
    b, b_grads = _run(theirs, x, s0, w_seq, w_n, state)
    names = ["h_seq", *(f"{s}_n" for s in state), "dx", *(f"d{s}0" for s in state)]
    for name, u, v in zip(names, a, b, strict=True):
        assert u.shape == v.shape, name
        torch.testing.assert_close(u, v, **CLOSE, msg=name)
    assert sorted(a_grads) == sorted(b_grads) == sorted(theirs.state_dict())
    for name in b_grads:
        torch.testing.assert_close(a_grads[name], b_grads[name], **CLOSE, msg=name)


def assert_zero_state_by_default_and_round_trip(ours_cls, theirs_cls, state, **bias):
    """Without a state both start from zeros; h_T is h_seq[-1]; torch loads our weights."""
    ours, theirs = pair(ours_cls, theirs_cls, (6, 2, 3, 4))
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    out, s_n = ours(x)
    ref, _ = theirs(x)
    torch.testing.assert_close(out, ref, **CLOSE)
    s_n = _unpack(s_n, state)
    assert all(s.shape == (1, 2, 4) for s in s_n)
    torch.testing.assert_close(out[-1], s_n[0][0], rtol=0, atol=0)
    theirs.load_state_dict(ours_cls(3, 4, **bias).double().state_dict())  # and back


def assert_cell_matches_torch(ours_cls, theirs_cls, state):
    """The cell, with a given state and with zeros, against torch's cell."""
    torch.manual_seed(0)
    theirs = theirs_cls(3, 4).double()
    ours = ours_cls(3, 4).double()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, dtype=torch.float64)
    s = _pack([torch.randn(2, 4, dtype=torch.float64) for _ in state], state)
    for args in ((x, s), (x,)):
        us, vs = _unpack(ours(*args), state), _unpack(theirs(*args), state)
        for u, v in zip(us, vs, strict=True):
            torch.testing.assert_close(u, v, **CLOSE)


def assert_bias_sets_the_second_block(cls, name, value, size):
    """``name=value`` adds ``value`` to b_ih[H:2H] (``size`` = G H rows, H = 5) after the same
    draw, and nothing else."""
    torch.manual_seed(3)
    base = cls(2, 5)
    torch.manual_seed(3)
    biased = cls(2, 5, **{name: value})
    delta = biased.bias_ih_l0 - base.bias_ih_l0
    expected = torch.zeros(size)
    expected[5:10] = value
    torch.testing.assert_close(delta, expected)
    torch.testing.assert_close(biased.bias_hh_l0, base.bias_hh_l0, rtol=0, atol=0)
    assert float(base.weight_hh_l0.detach().abs().max()) <= 5**-0.5
    assert f"{name}={value}" in repr(biased)


def assert_same_seed_gives_the_same_weights(ours_cls, theirs_cls):
    torch.manual_seed(7)
    a = ours_cls(3, 4).state_dict()
    torch.manual_seed(7)
    b = theirs_cls(3, 4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b)


def assert_bad_input_is_reported(model):
    """The input checks of a sequence module with D = 3, in float32."""
    x = torch.randn(5, 2, 3)
    with pytest.raises(TypeError, match=r"torch.Tensor of shape \(T, B, D\).*got ndarray"):
        model(x.numpy())
    with pytest.raises(ValueError, match=r"\(T, B, D\), time-major with D=3; got \(2, 3\)"):
        model(x[0])
    with pytest.raises(ValueError, match=r"D=3; got \(5, 2, 4\)"):
        model(torch.randn(5, 2, 4))
    with pytest.raises(TypeError, match="dtype torch.float64 but the parameters are torch.float32"):
        model(x.double())
