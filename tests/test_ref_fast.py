"""The fast numpy paths: the plain paths' function and gradients, checked three ways.

Against finite differences in float64 (the fast backward is a derivation of its own, not a
copy), against the plain path in float64 (to rounding) and in float32 (to float32 tolerance),
and with the plain path's checks of bad input.
"""

import numpy as np
import pytest

from companion.gradcheck import check_layer
from companion.ref import _hoisted, gru, gru_fast, lstm, lstm_fast, rnn, rnn_fast

SHAPES = [(1, 1, 1, 1), (1, 2, 3, 4), (4, 2, 3, 5), (7, 1, 2, 1), (6, 3, 2, 3)]  # (T, B, D, H)
ids = lambda s: "T{}-B{}-D{}-H{}".format(*s)  # noqa: E731

# (name, plain module, fast module, keyword arguments of forward)
PAIRS = [
    ("rnn-tanh", rnn, rnn_fast, {"nonlinearity": "tanh"}),
    ("rnn-relu", rnn, rnn_fast, {"nonlinearity": "relu"}),
    ("lstm", lstm, lstm_fast, {}),
    ("gru", gru, gru_fast, {}),
]
pair_ids = [p[0] for p in PAIRS]


def _problem(plain, shape, dtype=np.float64, seed=0):
    T, B, D, H = shape
    rng = np.random.default_rng(seed)
    params = plain.init_params(D, H, rng, dtype=dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    state0 = (h0, rng.standard_normal((B, H)).astype(dtype)) if plain is lstm else h0
    return rng, x, state0, params


def _gradients_in(plain, state_T, rng):
    """Random upstream gradients for h_seq and the final state (a pair for the LSTM)."""
    if plain is lstm:
        return tuple(rng.standard_normal(s.shape).astype(s.dtype) for s in state_T)
    return rng.standard_normal(state_T.shape).astype(state_T.dtype)


def _run(module, x, state0, params, dh_seq, dstate_T, **kwargs):
    h_seq, state_T, cache = module.forward(x, state0, params, **kwargs)
    dx, dstate0, grads = module.backward(dh_seq, dstate_T, cache)
    flat = lambda s: list(s) if isinstance(s, tuple) else [s]  # noqa: E731
    outputs = [h_seq, *flat(state_T)]
    gradients = [dx, *flat(dstate0), *(grads[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh"))]
    return outputs, gradients


@pytest.mark.parametrize("name, plain, fast, kwargs", PAIRS, ids=pair_ids)
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_fast_backward_matches_finite_differences(name, plain, fast, kwargs, shape):
    rng, x, state0, params = _problem(plain, shape)
    errors = check_layer(fast, x, state0, params, rng, **kwargs)
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("name, plain, fast, kwargs", PAIRS, ids=pair_ids)
@pytest.mark.parametrize(
    "dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)], ids=["float64", "float32"]
)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (9, 4, 3, 6), (30, 8, 5, 16)], ids=ids)
def test_fast_equals_plain(name, plain, fast, kwargs, dtype, tol, shape):
    """Same outputs and gradients as the plain path, to the rounding of the dtype."""
    rng, x, state0, params = _problem(plain, shape, dtype)
    h_seq, state_T, _ = plain.forward(x, state0, params, **kwargs)
    dh_seq = rng.standard_normal(h_seq.shape).astype(dtype)
    dstate_T = _gradients_in(plain, state_T, rng)
    want = _run(plain, x, state0, params, dh_seq, dstate_T, **kwargs)
    got = _run(fast, x, state0, params, dh_seq, dstate_T, **kwargs)
    for kind, w_list, g_list in zip(("output", "gradient"), want, got, strict=True):
        for i, (w, g) in enumerate(zip(w_list, g_list, strict=True)):
            assert g.dtype == dtype and g.shape == w.shape, (kind, i)
            scale = max(1.0, float(np.abs(w).max()))
            assert np.abs(g - w).max() <= tol * scale, (kind, i, np.abs(g - w).max())


@pytest.mark.parametrize("name, plain, fast, kwargs", PAIRS, ids=pair_ids)
def test_fast_defaults_and_missing_final_gradients(name, plain, fast, kwargs):
    """state0=None means zeros and dstate_T=None means no gradient there, as in the plain path."""
    rng, x, state0, params = _problem(plain, (5, 2, 3, 4))
    zeros = tuple(np.zeros_like(s) for s in state0) if plain is lstm else np.zeros_like(state0)
    h_none, _, cache = fast.forward(x, None, params, **kwargs)
    h_zero, _, _ = fast.forward(x, zeros, params, **kwargs)
    np.testing.assert_array_equal(h_none, h_zero)
    dh_seq = rng.standard_normal(h_none.shape)
    dstate_zero = tuple(np.zeros_like(s) for s in zeros) if plain is lstm else zeros
    got_none = fast.backward(dh_seq, None, cache)
    got_zero = fast.backward(dh_seq, dstate_zero, cache)
    np.testing.assert_allclose(got_none[0], got_zero[0], rtol=0, atol=1e-15)
    for k in params:
        np.testing.assert_allclose(got_none[2][k], got_zero[2][k], rtol=0, atol=1e-15)


@pytest.mark.parametrize("name, plain, fast, kwargs", PAIRS, ids=pair_ids)
def test_fast_modifies_no_argument_and_backward_can_run_twice(name, plain, fast, kwargs):
    rng, x, state0, params = _problem(plain, (6, 3, 2, 4))
    before = [x.copy(), *(p.copy() for p in params.values())]
    h_seq, state_T, cache = fast.forward(x, state0, params, **kwargs)
    dh_seq = rng.standard_normal(h_seq.shape)
    dstate_T = _gradients_in(plain, state_T, rng)
    saved = dh_seq.copy()
    first = fast.backward(dh_seq, dstate_T, cache)
    second = fast.backward(dh_seq, dstate_T, cache)
    np.testing.assert_array_equal(dh_seq, saved)
    for a, b in zip(before, [x, *params.values()], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first[0], second[0])
    for k in params:
        np.testing.assert_array_equal(first[2][k], second[2][k])


def test_fast_sigmoid_does_not_overflow():
    """Pre-activations of +-1e4 give gates of exactly 0 and 1, no warning, no NaN."""
    rng, x, state0, params = _problem(lstm, (3, 2, 2, 3), np.float32)
    params = {k: v * np.float32(1e4) for k, v in params.items()}
    with np.errstate(all="raise"):
        h_seq, _, cache = lstm_fast.forward(x * np.float32(1e3), state0, params)
    assert np.isfinite(h_seq).all()
    gates = cache["gates"]
    assert gates.min() >= -1.0 and gates.max() <= 1.0


@pytest.mark.parametrize("name, plain, fast, kwargs", PAIRS, ids=pair_ids)
def test_fast_rejects_bad_input_like_the_plain_path(name, plain, fast, kwargs):
    rng, x, state0, params = _problem(plain, (4, 2, 3, 5))
    with pytest.raises(ValueError, match=r"shape \(T, B, D\)"):
        fast.forward(x[0], state0, params, **kwargs)
    with pytest.raises(TypeError, match="floating dtype"):
        fast.forward(x.astype(int), state0, params, **kwargs)
    with pytest.raises(TypeError, match="share one floating dtype"):
        fast.forward(x.astype(np.float32), state0, params, **kwargs)
    with pytest.raises(ValueError, match=r"must have shape \(4\*H, H\)|\(3\*H, H\)|\(1\*H, H\)"):
        fast.forward(x, state0, {**params, "W_hh": params["W_hh"][:, :-1]}, **kwargs)
    with pytest.raises(ValueError, match=r"params\['W_ih'\].*must have shape"):
        fast.forward(x[:, :, :2], state0, params, **kwargs)
    bad_state = (state0[0][:1], state0[1][:1]) if plain is lstm else state0[:1]
    with pytest.raises(ValueError, match=r"\(B, H\) = \(2, 5\)"):
        fast.forward(x, bad_state, params, **kwargs)
    h_seq, _, cache = fast.forward(x, state0, params, **kwargs)
    with pytest.raises(ValueError, match=r"dh_seq must have shape \(T, B, H\)"):
        fast.backward(h_seq[:-1], None, cache)
    _, _, plain_cache = plain.forward(x, state0, params, **kwargs)
    with pytest.raises(ValueError, match=f"cache must come from companion.ref.{fast.FAMILY}"):
        fast.backward(h_seq, None, plain_cache)
    with pytest.raises(ValueError, match=f"cache must come from companion.ref.{plain.FAMILY}"):
        plain.backward(h_seq, None, cache)


def test_rnn_fast_rejects_an_unknown_nonlinearity():
    rng, x, state0, params = _problem(rnn, (2, 1, 1, 2))
    with pytest.raises(ValueError, match="tanh"):
        rnn_fast.forward(x, state0, params, nonlinearity="sigmoid")


@pytest.mark.parametrize("fast", [lstm_fast, gru_fast], ids=["lstm", "gru"])
@pytest.mark.parametrize("threshold", [1, 10**9], ids=["step-by-step", "all-at-once"])
def test_both_places_of_the_backward_factors_give_the_plain_gradients(fast, threshold, monkeypatch):
    """The factors computed inside the loop (large B * H) or before it (small) agree."""
    plain = lstm if fast is lstm_fast else gru
    monkeypatch.setattr(_hoisted, "STEP_BY_STEP_MIN", threshold)
    rng, x, state0, params = _problem(plain, (6, 3, 2, 4))
    errors = check_layer(fast, x, state0, params, rng)
    assert max(errors.values()) < 1e-7
    h_seq, state_T, _ = plain.forward(x, state0, params)
    dh_seq = rng.standard_normal(h_seq.shape)
    dstate_T = _gradients_in(plain, state_T, rng)
    want = _run(plain, x, state0, params, dh_seq, dstate_T)[1]
    got = _run(fast, x, state0, params, dh_seq, dstate_T)[1]
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
