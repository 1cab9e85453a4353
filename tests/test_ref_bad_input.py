"""Bad input at every companion.ref entry point: each kind a clear error, plain and fast alike.

An empty sequence (T = 0) and a state whose dtype differs from the parameters' (the numpy
counterpart of torch's "mat1 and mat2 must have the same dtype") are rejected by every
forward and every step, with messages that name the argument.
"""

import numpy as np
import pytest

from companion.ref import gru, gru_fast, lstm, lstm_fast, rnn, rnn_fast

# (plain module, fast module); each forward takes (x, state0, params)
FAMILIES = {"rnn": (rnn, rnn_fast), "lstm": (lstm, lstm_fast), "gru": (gru, gru_fast)}
FORWARDS = [(m, name) for name, pair in FAMILIES.items() for m in pair]
fwd_ids = [m.FAMILY for m, _ in FORWARDS]


def _problem(plain, dtype=np.float64, T=4, B=2, D=3, H=5):
    rng = np.random.default_rng(0)
    params = plain.init_params(D, H, rng, dtype=dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h = rng.standard_normal((B, H)).astype(dtype)
    state = (h, h.copy()) if plain is lstm else h
    return x, state, params


def _astype(state, dtype):
    return (
        tuple(s.astype(dtype) for s in state) if isinstance(state, tuple) else state.astype(dtype)
    )


@pytest.mark.parametrize("module, name", FORWARDS, ids=fwd_ids)
@pytest.mark.parametrize("state", ["given", "None"])
def test_an_empty_sequence_is_rejected(module, name, state):
    x, state0, params = _problem(FAMILIES[name][0])
    with pytest.raises(ValueError, match=r"x must have T, B, D >= 1; got shape \(0, 2, 3\)"):
        module.forward(x[:0], state0 if state == "given" else None, params)


@pytest.mark.parametrize("module, name", FORWARDS, ids=fwd_ids)
@pytest.mark.parametrize("dtypes", [(np.float64, np.float32), (np.float32, np.float64)])
def test_a_state_of_another_dtype_than_the_parameters_is_rejected(module, name, dtypes):
    params_dtype, state_dtype = dtypes
    x, state0, params = _problem(FAMILIES[name][0], params_dtype)
    listing = f"x: {np.dtype(params_dtype)}, h0: {np.dtype(state_dtype)}"
    with pytest.raises(TypeError, match=f"must share one floating dtype; got {listing}"):
        module.forward(x, _astype(state0, state_dtype), params)


@pytest.mark.parametrize("module, name", FORWARDS, ids=fwd_ids)
def test_parameters_of_mixed_dtypes_are_rejected(module, name):
    x, state0, params = _problem(FAMILIES[name][0])
    mixed = {**params, "b_hh": params["b_hh"].astype(np.float32)}
    with pytest.raises(TypeError, match="b_hh: float32"):
        module.forward(x, state0, mixed)


@pytest.mark.parametrize("plain", [rnn, lstm, gru], ids=["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtypes", [(np.float64, np.float32), (np.float32, np.float64)])
def test_every_step_rejects_a_state_of_another_dtype(plain, dtypes):
    params_dtype, state_dtype = dtypes
    x, state0, params = _problem(plain, params_dtype)
    with pytest.raises(TypeError, match=f"h_prev: {np.dtype(state_dtype)}"):
        plain.step(x[0], _astype(state0, state_dtype), params)
    with pytest.raises(TypeError, match=f"x_t: {np.dtype(state_dtype)}"):
        plain.step(x[0].astype(state_dtype), state0, params)


@pytest.mark.parametrize("plain", [rnn, lstm, gru], ids=["rnn", "lstm", "gru"])
def test_every_step_rejects_a_state_of_another_shape(plain):
    x, state0, params = _problem(plain)
    short = tuple(s[:1] for s in state0) if plain is lstm else state0[:1]
    with pytest.raises(
        ValueError, match=r"h_prev must have shape \(B, H\) = \(2, 5\); got \(1, 5\)"
    ):
        plain.step(x[0], short, params)


def test_the_lstm_step_names_its_pair():
    x, (h, c), params = _problem(lstm)
    with pytest.raises(TypeError, match=r"pair \(h_prev, c_prev\) of arrays .* single array"):
        lstm.step(x[0], h, params)
    with pytest.raises(ValueError, match=r"c_prev must have shape \(B, H\) = \(2, 5\)"):
        lstm.step(x[0], (h, c[:, :4]), params)
    with pytest.raises(TypeError, match=r"the state must be .*; got NoneType"):
        lstm.step(x[0], None, params)


@pytest.mark.parametrize("module, name", FORWARDS, ids=fwd_ids)
def test_every_backward_checks_its_gradients_and_cache(module, name):
    x, state0, params = _problem(FAMILIES[name][0])
    h_seq, state_T, cache = module.forward(x, state0, params)
    with pytest.raises(ValueError, match=r"dh_seq must have shape \(T, B, H\) = \(4, 2, 5\)"):
        module.backward(h_seq[:, :1], None, cache)
    with pytest.raises(TypeError, match="dh_seq must have a floating dtype"):
        module.backward(h_seq.astype(int), None, cache)
    bad_T = (None, np.zeros((5, 2))) if name == "lstm" else np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"d[hc]_T must have shape \(B, H\) = \(2, 5\)"):
        module.backward(h_seq, bad_T, cache)
    with pytest.raises(ValueError, match=f"cache must come from companion.ref.{module.FAMILY}"):
        module.backward(h_seq, None, {"family": "other"})
    dx, _, grads = module.backward(h_seq, None, cache)  # None: no gradient from the state
    assert dx.shape == x.shape and grads.keys() == params.keys()
