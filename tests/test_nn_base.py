"""companion.nn.base: a new family is a step, and every entry point of companion.nn reports bad
input the same way (empty sequences, dtypes, batch-first tensors, states, proj_size weights,
dropout, sizes)."""

import warnings

import _torch_parity as parity
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from companion import nn as cnn
from companion.nn import (
    GRU,
    LSTM,
    VARIANTS,
    GateSimplifiedGRU,
    GRUCell,
    LSTMCell,
    MinGRU,
    MinimalGatedUnit,
    MinLSTM,
    RecurrentBase,
    Stacked,
    lstm_variant,
)
from companion.nn.minimal import MinimalBase


# --- a new family is a step -----------------------------------------------------------------
class Elman(RecurrentBase):
    """Chapter 1's cell, h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh): the step alone."""

    blocks = ("a",)

    def step(self, ax_t, state):
        h = torch.tanh(ax_t + F.linear(state[0], self.W_hh, self.b_hh))
        return (h,), {}


class ElmanCell(Elman):
    is_cell = True


# --- every family against torch: LSTM, GRU, and the Elman cell written above --------------
FAMILIES = {  # ours (layer, cell), torch's (layer, cell), the state's letters, the bias keyword
    "rnn": (Elman, ElmanCell, torch.nn.RNN, torch.nn.RNNCell, "h", None),
    "lstm": (LSTM, LSTMCell, torch.nn.LSTM, torch.nn.LSTMCell, "hc", "forget_bias"),
    "gru": (GRU, GRUCell, torch.nn.GRU, torch.nn.GRUCell, "h", "update_bias"),
}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape", parity.SHAPES, ids=parity.ids)
def test_matches_torch_outputs_state_and_gradients(family, shape):
    ours, _, theirs, _, state, _ = FAMILIES[family]
    parity.assert_matches_torch(ours, theirs, shape, state=state)


@pytest.mark.parametrize("family", FAMILIES)
def test_zero_state_by_default_state_dict_round_trip_and_cell(family):
    ours, ours_cell, theirs, theirs_cell, state, bias = FAMILIES[family]
    kwargs = {} if bias is None else {bias: 1.0}
    parity.assert_zero_state_by_default_and_round_trip(ours, theirs, state=state, **kwargs)
    parity.assert_cell_matches_torch(ours_cell, theirs_cell, state=state)
    for a, b in ((ours, theirs), (ours_cell, theirs_cell)):
        parity.assert_same_seed_gives_the_same_weights(a, b)


@pytest.mark.parametrize(("family", "value"), [("lstm", 1.0), ("gru", 3.0)])
def test_the_bias_argument_sets_its_block(family, value):
    ours, _, _, _, _, bias = FAMILIES[family]
    G = len(ours.blocks)
    parity.assert_bias_sets_the_second_block(ours, bias, value, size=5 * G)


def test_a_new_family_stacks_as_torch_does():
    torch.manual_seed(0)
    theirs = torch.nn.RNN(3, 4, num_layers=2, bidirectional=True).double()
    ours = Stacked(Elman, 3, 4, 2, True, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    for u, v in zip(ours(x), theirs(x), strict=True):
        torch.testing.assert_close(u, v, **parity.CLOSE)
    with pytest.raises(ValueError, match="T must be >= 1"):
        Elman(3, 4)(torch.randn(0, 2, 3))


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_module_runs_the_one_time_loop():
    """No class of companion.nn writes its own loop: only the minimal units, whose forward
    adds the log-space form, override forward, and none overrides scan."""
    ours = [c for c in _subclasses(RecurrentBase) if c.__module__.startswith("companion.nn")]
    assert len(ours) >= 17
    for cls in ours:
        assert cls.scan is RecurrentBase.scan, cls
        assert cls.forward in (RecurrentBase.forward, MinimalBase.forward), cls


# --- every entry point ----------------------------------------------------------------------
D, H, T, B = 3, 4, 5, 2

LAYERS = {
    "LSTM": lambda **kw: LSTM(D, H, **kw),
    "GRU": lambda **kw: GRU(D, H, **kw),
    "GRU-before": lambda **kw: GRU(D, H, reset="before", **kw),
    **{f"{n}": (lambda n=n, **kw: lstm_variant(n, D, H, **kw)) for n in VARIANTS if n != "NP"},
    "MinGRU-parallel": lambda **kw: MinGRU(D, H, mode="parallel", **kw),
    "MinGRU-sequential": lambda **kw: MinGRU(D, H, mode="sequential", **kw),
    "MinLSTM-parallel": lambda **kw: MinLSTM(D, H, mode="parallel", **kw),
    "MinLSTM-sequential": lambda **kw: MinLSTM(D, H, mode="sequential", **kw),
    "MinimalGatedUnit": lambda **kw: MinimalGatedUnit(D, H, **kw),
    "GateSimplifiedGRU": lambda **kw: GateSimplifiedGRU(D, H, form=2, **kw),
    "Stacked-LSTM": lambda **kw: Stacked(LSTM, D, H, num_layers=2, **kw),
    "Stacked-GRU-bidirectional": lambda **kw: Stacked(GRU, D, H, 2, True, **kw),
    "Stacked-MinGRU-bidirectional": lambda **kw: Stacked(MinGRU, D, H, 1, True, **kw),
}
CELLS = {"LSTMCell": lambda **kw: LSTMCell(D, H, **kw), "GRUCell": lambda **kw: GRUCell(D, H, **kw)}
ALL = {**LAYERS, **CELLS}


def _state(m, batch=B, dtype=torch.float32):
    """A valid state for ``m`` (positive, for the log-space form): one tensor or a pair."""
    layer = m.layers[0] if isinstance(m, Stacked) else m
    lead = () if layer.is_cell else (len(m.layers),) if isinstance(m, Stacked) else (1,)
    s = [torch.rand(*lead, batch, H, dtype=dtype) + 0.1 for _ in layer.state_names]
    return s[0] if len(s) == 1 else tuple(s)


def _x(m, dtype=torch.float32):
    return torch.randn(*(() if getattr(m, "is_cell", False) else (T,)), B, D, dtype=dtype)


@pytest.mark.parametrize("name", ALL)
def test_valid_input_runs(name):
    """The other tests' inputs differ from these in one respect only."""
    m = ALL[name]()
    out = m(_x(m), _state(m))
    assert isinstance(out, tuple | torch.Tensor)


@pytest.mark.parametrize("name", LAYERS)
def test_the_input_checks_of_a_sequence_layer(name):
    parity.assert_bad_input_is_reported(LAYERS[name]())


h0 = torch.zeros(1, B, H)


@pytest.mark.parametrize(
    ("make", "state", "error", "match"),
    [
        (LSTM, h0, TypeError, r"pair \(h, c\) .*; got a single tensor of shape \(1, 2, 4\)"),
        (LSTM, (h0, h0[0]), ValueError, r"state c must have shape \(1, 2, 4\); got \(2, 4\)$"),
        (LSTM, (None, h0), TypeError, "state h must be a torch.Tensor of shape"),
        (GRU, (h0, h0), TypeError, r"one torch.Tensor h of shape \(1, 2, 4\) \(no cell state"),
        (GRU, h0[0], ValueError, r"state must have shape \(1, 2, 4\); got \(2, 4\)$"),
        (GRU, h0.numpy(), TypeError, "state must be one torch.Tensor h.*; got ndarray"),
        (GRUCell, h0, ValueError, r"state must have shape \(2, 4\); got \(1, 2, 4\)"),
        (LSTMCell, (h0, h0), ValueError, r"state h must have shape \(2, 4\); got \(1, 2, 4\)"),
    ],
)
def test_the_state_messages_name_the_state_expected(make, state, error, match):
    m = make(D, H)
    with pytest.raises(error, match=match):
        m(_x(m), state)


@pytest.mark.parametrize("name", LAYERS)
def test_an_empty_sequence_is_refused(name):
    m = LAYERS[name]()
    with pytest.raises(ValueError, match=r"T = 0 steps \(shape \(0, 2, 3\)\); T must be >= 1"):
        m(torch.randn(0, B, D))
    with pytest.raises(ValueError, match="T must be >= 1"):
        m(torch.randn(0, B, D), _state(m))


@pytest.mark.parametrize("name", ALL)
def test_a_state_in_another_dtype_names_both_dtypes_and_the_fix(name):
    m = ALL[name]()
    x = _x(m)
    with pytest.raises(TypeError, match=r"float64 but the parameters are torch.float32.*\.to\("):
        m(x, _state(m, dtype=torch.float64))
    m64 = ALL[name](dtype=torch.float64)
    with pytest.raises(TypeError, match=r"float32 but the parameters are torch.float64.*\.to\("):
        m64(x.double(), _state(m64, dtype=torch.float32))
    with pytest.raises(TypeError, match=r"input has dtype torch.float64 but the parameters"):
        m(x.double(), _state(m))


@pytest.mark.parametrize("name", ALL)
def test_a_state_of_the_wrong_shape_or_kind_is_refused(name):
    m = ALL[name]()
    x, s = _x(m), _state(m)
    parts = s if isinstance(s, tuple) else (s,)
    wrong = tuple(p[..., :-1] for p in parts)  # H - 1 columns
    with pytest.raises(ValueError, match=rf"must have shape .*{H}\); got .*{H - 1}\)"):
        m(x, wrong if isinstance(s, tuple) else wrong[0])
    with pytest.raises(TypeError, match="torch.Tensor|tensor"):
        m(x, tuple(p.numpy() for p in parts) if isinstance(s, tuple) else s.numpy())
    m(x, None)  # zeros


@pytest.mark.parametrize("name", [n for n in ALL if not n.startswith("Stacked")])
def test_a_pair_for_a_single_state_or_one_tensor_for_a_pair_is_refused(name):
    m = ALL[name]()
    s = _state(m)
    other = s[0] if isinstance(s, tuple) else (s, s)
    with pytest.raises(TypeError, match=r"state must be (a pair \(h, c\)|one torch.Tensor h)"):
        m(_x(m), other)


@pytest.mark.parametrize("name", LAYERS)
def test_a_batch_first_input_is_explained(name):
    m = LAYERS[name]()
    x_bf = torch.randn(B, T, D)  # batch-first: read as T = B steps of a batch of T
    with pytest.raises(ValueError, match=r"B = 5 because x \(2, 5, 3\) is read as time-major "):
        m(x_bf, _state(m))
    m(x_bf.transpose(0, 1), _state(m))  # the fix the message gives
    for bad in (torch.randn(B, T), torch.randn(T, B, D + 1)):
        with pytest.raises(ValueError, match=r"time-major with D=3;.*batch-first \(B, T, D\), "):
            m(bad)


@pytest.mark.parametrize("name", CELLS)
def test_a_sequence_given_to_a_cell_is_explained(name):
    with pytest.raises(ValueError, match=r"\(B, D\) with D=3 \(one time step\); got \(5, 2, 3\)"):
        CELLS[name]()(torch.randn(T, B, D))
    with pytest.raises(TypeError, match=r"torch.Tensor of shape \(B, D\).*got ndarray"):
        CELLS[name]()(np.zeros((B, D)))


@pytest.mark.parametrize("name", ["NP", *[n for n in VARIANTS if n != "NP"]])
def test_proj_size_weights_are_refused_with_the_users_keys(name):
    theirs = torch.nn.LSTM(D, H, proj_size=2)
    ours = lstm_variant(name, D, H)
    with pytest.raises(ValueError, match=r"weight_hr_l0: .*proj_size=2.*proj_size is not supp"):
        ours.load_state_dict(theirs.state_dict(), strict=False)
    nested = torch.nn.ModuleDict({"encoder": ours})
    keys = {f"encoder.{k}": v for k, v in theirs.state_dict().items()}
    with pytest.raises(ValueError, match=r"has encoder.weight_hr_l0: "):
        nested.load_state_dict(keys)


def test_proj_size_weights_are_refused_by_stacked():
    theirs = torch.nn.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=2)
    ours = Stacked(LSTM, D, H, 2, True)
    keys = "weight_hr_l0, weight_hr_l0_reverse, weight_hr_l1, weight_hr_l1_reverse"
    with pytest.raises(ValueError, match=rf"has {keys}: .*not supported by Stacked"):
        ours.load_state_dict(theirs.state_dict())
    ours.load_state_dict(torch.nn.LSTM(D, H, num_layers=2, bidirectional=True).state_dict())


def test_dropout_with_one_layer_warns_as_torch_does():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.nn.LSTM(D, H, num_layers=1, dropout=0.5)
    (torchs,) = [str(w.message) for w in caught]
    with pytest.warns(UserWarning) as ours:
        Stacked(LSTM, D, H, num_layers=1, dropout=0.5)
    assert [str(w.message) for w in ours] == [torchs]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Stacked(LSTM, D, H, num_layers=2, dropout=0.5)
        Stacked(LSTM, D, H, num_layers=1, dropout=0.0)


@pytest.mark.parametrize(
    ("dropout", "error"),
    [(True, TypeError), ("0.5", TypeError), (-0.1, ValueError), (1.0, ValueError)]
    + [(float("nan"), ValueError)],
)
def test_bad_dropout_is_refused(dropout, error):
    with pytest.raises(error, match="dropout must be"):
        Stacked(LSTM, D, H, num_layers=2, dropout=dropout)


CONSTRUCTORS = {
    "LSTM": LSTM,
    "LSTMCell": LSTMCell,
    "GRU": GRU,
    "GRUCell": GRUCell,
    **{n: (lambda d, h, n=n: lstm_variant(n, d, h)) for n in VARIANTS if n != "NP"},
    "MinGRU": MinGRU,
    "MinLSTM": MinLSTM,
    "MinimalGatedUnit": MinimalGatedUnit,
    "GateSimplifiedGRU": GateSimplifiedGRU,
    "Stacked": lambda d, h: Stacked(GRU, d, h, 2, True),
}


@pytest.mark.parametrize("name", CONSTRUCTORS)
@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (True, TypeError, "must be an integer; got bool"),
        (3.0, TypeError, "must be an integer; got float"),
        (0, ValueError, "must be a positive integer; got 0"),
    ],
)
def test_bad_sizes_are_refused_by_one_rule(name, value, error, match):
    make = CONSTRUCTORS[name]
    with pytest.raises(error, match=f"input_size {match}"):
        make(value, H)
    with pytest.raises(error, match=f"hidden_size {match}"):
        make(D, value)
    assert make(np.int64(D), np.int64(H)).hidden_size == H  # numpy integers are integers


def test_other_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="num_layers must be an integer; got bool"):
        Stacked(LSTM, D, H, num_layers=True)
    with pytest.raises(TypeError, match="forget_bias must be a number"):
        LSTM(D, H, forget_bias="1")
    with pytest.raises(ValueError, match="update_bias must be a finite number"):
        GRU(D, H, update_bias=float("inf"))
    with pytest.raises(TypeError, match="form must be an integer"):
        GateSimplifiedGRU(D, H, form=True)
    with pytest.raises(ValueError, match=r"reset must be one of \('after', 'before'\)"):
        GRU(D, H, reset="inside")
    with pytest.raises(ValueError, match=r"name must be one of \('NP', 'V'"):
        lstm_variant("LSTM", D, H)
    with pytest.raises(ValueError, match=r"LSTM has blocks \('i', 'f', 'g', 'o'\); got 'z'"):
        LSTM(D, H).block(torch.zeros(16), "z")
    assert cnn.LSTM(D, H).num_blocks == 4 and cnn.MinGRU(D, H).num_blocks == 2
