"""The stacked bidirectional wrapper equals torch.nn.LSTM and torch.nn.GRU with num_layers=2,
bidirectional=True, loaded from the same state_dict."""

import pytest
import torch

from companion.models import SequenceModel
from companion.nn import GRU, LSTM, MinGRU, Stacked, lstm_variant

F64 = {"dtype": torch.float64}
T, B, D, H = 5, 3, 4, 6
PAIRS = [(LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)]
ids = ["LSTM", "GRU"]


def _pair(ours_cls, torch_cls, num_layers=2, bidirectional=True, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    theirs = torch_cls(D, H, num_layers=num_layers, bidirectional=bidirectional, dropout=dropout)
    theirs = theirs.double()
    ours = Stacked(ours_cls, D, H, num_layers, bidirectional, dropout, **F64)
    result = ours.load_state_dict(theirs.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


def _state(cls, dirs=2, layers=2, seed=1):
    gen = torch.Generator().manual_seed(seed)
    s = [torch.randn(layers * dirs, B, H, generator=gen, **F64) for _ in range(2)]
    return tuple(s) if cls is LSTM else s[0]


def _run(module, x, state):
    x = x.clone().requires_grad_(True)
    out, s_n = module(x, state)
    s_n = s_n if isinstance(s_n, tuple) else (s_n,)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(2), **F64)
    ((out * w).sum() + sum((s**2).sum() for s in s_n)).backward()
    grads = {n: p.grad for n, p in module.named_parameters()}
    return out, s_n, x.grad, grads


@pytest.mark.parametrize(("ours_cls", "torch_cls"), PAIRS, ids=ids)
def test_matches_torch_two_layers_bidirectional(ours_cls, torch_cls):
    ours, theirs = _pair(ours_cls, torch_cls)
    x = torch.randn(T, B, D, generator=torch.Generator().manual_seed(0), **F64)
    state = _state(ours_cls)
    a, b = _run(ours, x, state), _run(theirs, x, state)
    assert a[0].shape == (T, B, 2 * H)
    for u, v in zip(a[:3], b[:3], strict=True):
        torch.testing.assert_close(u, v, rtol=1e-10, atol=1e-12)
    ours_grads = {}
    for name, grad in a[3].items():  # layers.k.weight_ih_l0 -> torch's weight_ih_l{l}{_reverse}
        _, k, base = name.split(".", 2)
        ours_grads[ours._torch_name(int(k), base)] = grad
    assert set(ours_grads) == set(b[3])
    for name, grad in b[3].items():
        torch.testing.assert_close(ours_grads[name], grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("ours_cls", "torch_cls"), PAIRS, ids=ids)
@pytest.mark.parametrize(("layers", "bidi"), [(1, False), (1, True), (3, False)])
def test_matches_torch_other_shapes_with_zero_state(ours_cls, torch_cls, layers, bidi):
    ours, theirs = _pair(ours_cls, torch_cls, layers, bidi)
    x = torch.randn(T, B, D, **F64)
    out, s = ours(x)
    out_t, s_t = theirs(x)
    torch.testing.assert_close(out, out_t, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(s, s_t, rtol=1e-10, atol=1e-12)


def test_state_dict_round_trip_and_names():
    ours, theirs = _pair(LSTM, torch.nn.LSTM)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    back = torch.nn.LSTM(D, H, num_layers=2, bidirectional=True).double()
    back.load_state_dict(ours.state_dict())
    for k, v in theirs.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v)


@pytest.mark.parametrize(("ours_cls", "torch_cls"), PAIRS, ids=ids)
def test_dropout_between_layers(ours_cls, torch_cls):
    ours, theirs = _pair(ours_cls, torch_cls, dropout=0.5)
    x = torch.randn(T, B, D, **F64)
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])  # no dropout at evaluation
    ours.train()
    torch.manual_seed(0)
    a = ours(x)[0]
    torch.manual_seed(1)
    b = ours(x)[0]
    assert not torch.allclose(a, b)  # a fresh mask in training
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        one = Stacked(LSTM, D, H, 1, True, dropout=0.5, **F64).train()
    torch.manual_seed(0)
    c = one(x)[0]
    torch.manual_seed(1)
    torch.testing.assert_close(one(x)[0], c)  # one layer: no dropout anywhere


def test_unexpected_reverse_weights_are_reported():
    theirs = torch.nn.LSTM(D, H, num_layers=1, bidirectional=True)
    ours = Stacked(LSTM, D, H, num_layers=1)
    result = ours.load_state_dict(theirs.state_dict(), strict=False)
    assert result.unexpected_keys and all("reverse" in k for k in result.unexpected_keys)


def test_works_for_any_layer():
    x = torch.randn(T, B, D)
    for make in (lambda d, h: lstm_variant("V", d, h), MinGRU):
        net = Stacked(make, D, H, num_layers=2, bidirectional=True)
        out, _ = net(x)
        assert out.shape == (T, B, 2 * H)
        assert (
            "weight_peephole_l1_reverse" in net.state_dict() or "weight_ih_l1" in net.state_dict()
        )
    model = SequenceModel(D, H, 7, cell=Stacked(GRU, D, H, 2, True), readout="all")
    assert model(x).shape == (T, B, 7) and model.readout.in_features == 2 * H
    assert SequenceModel(D, H, 1, cell=GRU(D, H))(x).shape == (B, 1)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_layers"):
        Stacked(LSTM, D, H, num_layers=0)
    with pytest.raises(ValueError, match="dropout"):
        Stacked(LSTM, D, H, dropout=1.0)
    with pytest.raises(ValueError, match="shape"):
        Stacked(LSTM, D, H)(torch.randn(T, B, D + 1))
    with pytest.raises(ValueError, match="readout"):
        SequenceModel(D, H, 1, cell=LSTM(D, H), readout="first")


# --- padded batches: lengths= equals torch's packed sequences -------------------------------
@pytest.mark.parametrize("ours_cls,torch_cls", PAIRS, ids=ids)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lengths_match_packed_sequences(ours_cls, torch_cls, bidirectional):
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    ours, theirs = _pair(ours_cls, torch_cls, bidirectional=bidirectional)
    lengths = torch.tensor([5, 2, 1])
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(T, B, D, generator=gen, **F64)
    state = _state(ours_cls, dirs=2 if bidirectional else 1)
    x1 = x.clone().requires_grad_(True)
    out, s_n = ours(x1, state, lengths=lengths)
    x2 = x.clone().requires_grad_(True)
    packed, t_n = theirs(pack_padded_sequence(x2, lengths, enforce_sorted=False), state)
    t_out, _ = pad_packed_sequence(packed, total_length=T)
    torch.testing.assert_close(out, t_out, rtol=0, atol=1e-12)
    s_n = s_n if isinstance(s_n, tuple) else (s_n,)
    t_n = t_n if isinstance(t_n, tuple) else (t_n,)
    for a, b in zip(s_n, t_n, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    w = torch.randn(out.shape, generator=gen, **F64)
    for o, s in ((out, s_n), (t_out, t_n)):
        ((o * w).sum() + sum((v**2).sum() for v in s)).backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=0, atol=1e-12)
    theirs_grads = dict(theirs.named_parameters())
    for name, p in ours.state_dict(keep_vars=True).items():
        torch.testing.assert_close(p.grad, theirs_grads[name].grad, rtol=0, atol=1e-12)
    assert (out[2:, 1] == 0).all() and (out[1:, 2] == 0).all()  # past each end: zeros


def test_full_lengths_change_nothing():
    ours, _ = _pair(GRU, torch.nn.GRU)
    x = torch.randn(T, B, D, **F64)
    out, h_n = ours(x)
    out_l, h_n_l = ours(x, lengths=torch.full((B,), T))
    torch.testing.assert_close(out_l, out, rtol=0, atol=0)
    torch.testing.assert_close(h_n_l, h_n, rtol=0, atol=0)


@pytest.mark.parametrize(
    "lengths,error,match",
    [
        (torch.tensor([5, 2]), ValueError, r"shape \(B,\) = \(3,\)"),
        (torch.tensor([5, 0, 1]), ValueError, r"\[1, T\] = \[1, 5\]; got min 0"),
        (torch.tensor([6, 2, 1]), ValueError, r"got min 1, max 6"),
        (torch.tensor([5.0, 2.0, 1.0]), TypeError, "integers"),
        ("5 2 1", TypeError, "integers"),
    ],
)
def test_bad_lengths(lengths, error, match):
    ours, _ = _pair(GRU, torch.nn.GRU)
    with pytest.raises(error, match=match):
        ours(torch.randn(T, B, D, **F64), lengths=lengths)


def test_a_cell_takes_no_lengths():
    from companion.nn import GRUCell

    with pytest.raises(TypeError, match="takes no lengths"):
        GRUCell(D, H)(torch.randn(B, D), lengths=[1, 1, 1])
