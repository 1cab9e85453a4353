"""The numpy attention: every hand-written gradient against finite differences (float64), the
forward and backward against the torch modules, the mask, and every bad input."""

import numpy as np
import pytest
import torch

from companion.gradcheck import numerical_gradient, relative_error
from companion.nn.attention import AdditiveAttention, DotProductAttention
from companion.ref import attention as at

SHAPES = [(1, 1, 1, 1, 1), (1, 4, 2, 3, 5), (3, 1, 2, 3, 4), (2, 6, 3, 3, 2), (4, 5, 2, 6, 3)]
ids = lambda s: "B{}-S{}-Dq{}-Dk{}-A{}".format(*s)  # noqa: E731
PARITY = {"rtol": 1e-12, "atol": 1e-13}


def _mask(S, B, rng):
    """Random real lengths 1..S per column (padding at the end), as a padded batch has."""
    lengths = rng.integers(1, S + 1, size=B)
    lengths[0] = max(1, S - 1)  # at least one column padded when S > 1
    return np.arange(S)[:, None] < lengths[None, :]  # (S, B)


def _problem(shape, seed=0, masked=False, scale=2.0):
    """Parameters scaled up from the draw, so that the scores spread and tanh bends."""
    B, S, Dq, Dk, A = shape
    rng = np.random.default_rng(seed)
    params = {k: scale * p for k, p in at.init_params(Dq, Dk, A, rng).items()}
    query = rng.standard_normal((B, Dq))
    keys = rng.standard_normal((S, B, Dk))
    mask = _mask(S, B, rng) if masked else None
    return rng, query, keys, params, mask


def _loss_weights(rng, B, S, D):
    return rng.standard_normal((B, D)), rng.standard_normal((B, S))


@pytest.mark.parametrize("dweights", [True, False], ids=["reads-weights", "context-only"])
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_additive_backward_matches_finite_differences(shape, masked, dweights):
    B, S, Dq, Dk, A = shape
    rng, query, keys, params, mask = _problem(shape, masked=masked)
    wc, wa = _loss_weights(rng, B, S, Dk)
    wa = wa if dweights else None

    def loss(q, k, p):
        c, a, _ = at.additive_forward(q, k, p, mask)
        return np.sum(wc * c) + (np.sum(wa * a) if dweights else 0.0)

    _, _, cache = at.additive_forward(query, keys, params, mask)
    dquery, dkeys, grads = at.additive_backward(wc, cache, wa)
    numeric = {
        "query": numerical_gradient(lambda q: loss(q, keys, params), query),
        "keys": numerical_gradient(lambda k: loss(query, k, params), keys),
        **{
            n: numerical_gradient(lambda x, n=n: loss(query, keys, {**params, n: x}), params[n])
            for n in at.PARAM_NAMES
        },
    }
    analytic = {"query": dquery, "keys": dkeys, **grads}
    assert set(grads) == set(at.PARAM_NAMES)
    for name, g in analytic.items():
        assert g.shape == numeric[name].shape
        assert relative_error(g, numeric[name]) < 1e-7, name


@pytest.mark.parametrize("scaled", [False, True], ids=["dot", "scaled"])
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_dot_backward_matches_finite_differences(shape, masked, scaled):
    B, S, _, D, _ = shape
    rng = np.random.default_rng(1)
    query, keys = rng.standard_normal((B, D)), rng.standard_normal((S, B, D))
    mask = _mask(S, B, rng) if masked else None
    wc, wa = _loss_weights(rng, B, S, D)

    def loss(q, k):
        c, a, _ = at.dot_forward(q, k, mask, scaled)
        return np.sum(wc * c) + np.sum(wa * a)

    _, _, cache = at.dot_forward(query, keys, mask, scaled)
    dquery, dkeys = at.dot_backward(wc, cache, wa)
    assert relative_error(dquery, numerical_gradient(lambda q: loss(q, keys), query)) < 1e-7
    assert relative_error(dkeys, numerical_gradient(lambda k: loss(query, k), keys)) < 1e-7


def test_the_gradient_check_catches_a_missing_softmax_subtraction():
    """With de = a * da (the Jacobian's diagonal alone) the check fails by far."""
    shape = (3, 5, 2, 4, 3)
    rng, query, keys, params, _ = _problem(shape)
    wc, _ = _loss_weights(rng, 3, 5, 4)
    _, a, cache = at.additive_forward(query, keys, params)
    _, _, grads = at.additive_backward(wc, cache)
    s = cache["s"]
    de_wrong = a * np.einsum("bd,sbd->bs", wc, keys)  # no "- sum_i a_i da_i"
    dv_wrong = np.einsum("bs,bsa->a", de_wrong, s)

    def loss(v):
        return np.sum(wc * at.additive_forward(query, keys, {**params, "v": v})[0])

    numeric = numerical_gradient(loss, params["v"])
    assert relative_error(grads["v"], numeric) < 1e-7
    assert relative_error(dv_wrong, numeric) > 1e-2


@pytest.mark.parametrize("kind", ["additive", "dot"])
def test_masked_weights_are_exactly_zero_and_the_rest_sum_to_one(kind):
    shape = (4, 7, 3, 3, 5)
    rng, query, keys, params, mask = _problem(shape, seed=2, masked=True)
    if kind == "additive":
        c, a, cache = at.additive_forward(query, keys, params, mask)
        dquery, dkeys, _ = at.additive_backward(np.ones_like(c), cache, np.ones_like(a))
    else:
        c, a, cache = at.dot_forward(query, keys, mask)
        dquery, dkeys = at.dot_backward(np.ones_like(c), cache, np.ones_like(a))
    assert not mask.all()
    assert np.all(a[~mask.T] == 0.0) and np.all(a[mask.T] > 0.0)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert np.all(dkeys[~mask] == 0.0)  # padding gets no gradient
    assert np.abs(dkeys[mask]).min() > 0.0
    # and the padded keys do not matter: changing them changes nothing
    noisy = keys.copy()
    noisy[~mask] = 1e3 * rng.standard_normal(noisy[~mask].shape)
    forward = (
        (lambda k: at.additive_forward(query, k, params, mask))
        if kind == "additive"
        else (lambda k: at.dot_forward(query, k, mask))
    )
    c2, a2, _ = forward(noisy)
    np.testing.assert_array_equal(a2, a)
    np.testing.assert_allclose(c2, c, rtol=1e-14, atol=1e-15)


def test_an_all_true_mask_is_no_mask_and_one_position_is_a_copy():
    shape = (3, 4, 2, 5, 3)
    _, query, keys, params, _ = _problem(shape, seed=3)
    c, a, _ = at.additive_forward(query, keys, params)
    c1, a1, _ = at.additive_forward(query, keys, params, np.ones((4, 3), dtype=bool))
    np.testing.assert_array_equal(a1, a)
    np.testing.assert_array_equal(c1, c)
    # S = 1: the weight is 1, the context is the key, and nothing flows into the score
    c, a, cache = at.additive_forward(query, keys[:1], params)
    np.testing.assert_array_equal(a, np.ones((3, 1)))
    np.testing.assert_allclose(c, keys[0], rtol=1e-15)
    dquery, dkeys, grads = at.additive_backward(np.ones_like(c), cache)
    assert np.all(dquery == 0) and all(np.all(g == 0) for g in grads.values())
    np.testing.assert_array_equal(dkeys, np.ones_like(keys[:1]))


def test_init_params_draws_within_the_linear_bound():
    p = at.init_params(16, 25, 100, np.random.default_rng(0))
    assert {k: v.shape for k, v in p.items()} == {"W_q": (100, 16), "W_k": (100, 25), "v": (100,)}
    for k, fan_in in [("W_q", 16), ("W_k", 25), ("v", 100)]:
        bound = 1 / np.sqrt(fan_in)
        assert 0.9 * bound < np.abs(p[k]).max() <= bound, k
    again = at.init_params(16, 25, 100, np.random.default_rng(0))
    assert all(np.array_equal(p[k], again[k]) for k in p)
    p32 = at.init_params(2, 3, 4, np.random.default_rng(0), dtype=np.float32)
    assert all(v.dtype == np.float32 for v in p32.values())


def test_nothing_is_modified():
    shape = (3, 5, 2, 4, 3)
    rng, query, keys, params, mask = _problem(shape, masked=True)
    wc, wa = _loss_weights(rng, 3, 5, 4)
    inputs = [query, keys, *params.values(), mask, wc, wa]
    originals = [x.copy() for x in inputs]
    _, _, cache = at.additive_forward(query, keys, params, mask)
    at.additive_backward(wc, cache, wa)
    _, _, cache = at.dot_forward(query, keys[..., :2], mask, scaled=True)
    at.dot_backward(wc[:, :2], cache, wa)
    for x, o in zip(inputs, originals, strict=True):
        np.testing.assert_array_equal(x, o)


# --- against the torch modules ----------------------------------------------------------------
def _torch_grads(module, query, keys, mask, dcontext, dweights):
    q = torch.tensor(query[None], requires_grad=True)  # Tq = 1
    k = torch.tensor(keys, requires_grad=True)
    m = None if mask is None else torch.from_numpy(mask)
    c, a = module(q, k, m)
    loss = (c[0] * torch.from_numpy(dcontext)).sum() + (a[0] * torch.from_numpy(dweights)).sum()
    loss.backward()
    return c[0].detach().numpy(), a[0].detach().numpy(), q.grad[0].numpy(), k.grad.numpy()


@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_additive_matches_the_torch_module(shape, masked):
    B, S, Dq, Dk, A = shape
    rng, query, keys, params, mask = _problem(shape, seed=4, masked=masked)
    module = AdditiveAttention(Dq, Dk, A, dtype=torch.float64)
    with torch.no_grad():
        for name in at.PARAM_NAMES:
            getattr(module, name).copy_(torch.from_numpy(params[name]))
    dcontext, dweights = _loss_weights(rng, B, S, Dk)

    c, a, cache = at.additive_forward(query, keys, params, mask)
    dquery, dkeys, grads = at.additive_backward(dcontext, cache, dweights)
    tc, ta, tdq, tdk = _torch_grads(module, query, keys, mask, dcontext, dweights)

    np.testing.assert_allclose(c, tc, **PARITY)
    np.testing.assert_allclose(a, ta, **PARITY)
    np.testing.assert_allclose(dquery, tdq, **PARITY)
    np.testing.assert_allclose(dkeys, tdk, **PARITY)
    for name in at.PARAM_NAMES:
        np.testing.assert_allclose(grads[name], getattr(module, name).grad.numpy(), **PARITY)


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_dot_matches_the_torch_module(shape, masked, scaled):
    B, S, _, D, _ = shape
    rng, _, keys, _, mask = _problem(shape, seed=5, masked=masked)
    query = rng.standard_normal((B, D))
    dcontext, dweights = _loss_weights(rng, B, S, D)
    c, a, cache = at.dot_forward(query, keys, mask, scaled)
    dquery, dkeys = at.dot_backward(dcontext, cache, dweights)
    got = _torch_grads(DotProductAttention(scaled), query, keys, mask, dcontext, dweights)
    for mine, theirs in zip((c, a, dquery, dkeys), got, strict=True):
        np.testing.assert_allclose(mine, theirs, **PARITY)


# --- bad input ----------------------------------------------------------------------------------
_, Q, K, P, _ = _problem((2, 3, 4, 5, 6))  # B=2, S=3, Dq=4, Dk=5, A=6
M = np.ones((3, 2), dtype=bool)
EMPTY_COLUMN = np.array([[True, False]] * 3)


def _additive(**change):
    return at.additive_forward(**({"query": Q, "keys": K, "params": P, "mask": None} | change))


def _dot(**change):
    return at.dot_forward(**({"query": Q, "keys": K[..., :4], "mask": None} | change))


# (id, function, changed arguments, error, message)
BAD = [
    ("query 1-d", _additive, {"query": Q[0]}, ValueError, r"\(B, Dq\).*got 1 dim"),
    ("keys 2-d", _additive, {"keys": K[0]}, ValueError, r"\(S, B, Dk\).*got 2 dim"),
    ("query a list", _additive, {"query": Q.tolist()}, TypeError, "query must be a numpy array"),
    ("integer keys", _additive, {"keys": K.astype(int)}, TypeError, "keys must have a floating"),
    ("batch sizes differ", _additive, {"query": Q[:1]}, ValueError, "B.*got 1 and 2"),
    ("S = 0", _additive, {"keys": K[:0]}, ValueError, "S = 0 positions.*empty source"),
    ("Dq not W_q's", _additive, {"query": Q[:, :3]}, ValueError, r"W_q'\] .*\(6, 3\).*\(6, 4\)"),
    ("Dk not W_k's", _additive, {"keys": K[..., :4]}, ValueError, r"W_k'\] .*\(6, 4\).*\(6, 5\)"),
    ("params missing v", _additive, {"params": {"W_q": P["W_q"]}}, ValueError, r"\['W_k', 'v'\]"),
    ("params a list", _additive, {"params": list(P.values())}, TypeError, "params must be a dict"),
    ("float32 query", _additive, {"query": Q.astype(np.float32)}, TypeError, "query: float32"),
    ("float32 v", _additive, {"params": P | {"v": P["v"].astype("f4")}}, TypeError, "v: float32"),
    ("mask not bool", _additive, {"mask": M.astype(int)}, TypeError, r"boolean .*\(3, 2\).*int"),
    ("mask transposed", _additive, {"mask": M.T}, ValueError, r"\(S, B\) = \(3, 2\); got \(2, 3\)"),
    ("column of padding", _additive, {"mask": EMPTY_COLUMN}, ValueError, r"\(s\) \[1\]: an empty"),
    ("dot: Dq != Dk", _dot, {"keys": K}, ValueError, r"Dq=4 \(query \(2, 4\)\) and Dk=5"),
    ("dot: S = 0", _dot, {"keys": K[:0, :, :4]}, ValueError, "S = 0 positions.*empty source"),
    ("dot: column of padding", _dot, {"mask": EMPTY_COLUMN}, ValueError, r"\[1\]: an empty source"),
    ("dot: float32 keys", _dot, {"keys": K[..., :4].astype("f4")}, TypeError, "keys: float32"),
    ("dot: 3-d query", _dot, {"query": Q[None]}, ValueError, r"\(B, Dq\).*got 3 dim"),
    ("dot: scaled=1", _dot, {"scaled": 1}, TypeError, "scaled must be a bool; got int"),
]  # fmt: skip


@pytest.mark.parametrize("fn, change, error, match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_forward_input_is_rejected(fn, change, error, match):
    with pytest.raises(error, match=match):
        fn(**change)


def test_bad_backward_input_is_rejected():
    _, q, k, p, _ = _problem((2, 3, 4, 5, 6))
    c, a, cache = at.additive_forward(q, k, p)
    _, _, dot_cache = at.dot_forward(q, k[..., :4])
    with pytest.raises(ValueError, match=r"dcontext must have shape \(2, 5\); got \(5, 2\)"):
        at.additive_backward(c.T, cache)
    with pytest.raises(ValueError, match=r"dweights must have shape \(2, 3\); got \(3, 2\)"):
        at.additive_backward(c, cache, a.T)
    with pytest.raises(TypeError, match="dcontext must have the forward's dtype float64"):
        at.additive_backward(c.astype(np.float32), cache)
    with pytest.raises(TypeError, match="dweights must be a numpy array"):
        at.additive_backward(c, cache, a.tolist())
    with pytest.raises(ValueError, match=r"additive_forward; got a cache of 'dot'"):
        at.additive_backward(c, dot_cache)
    with pytest.raises(ValueError, match=r"dot_forward; got a cache of 'additive'"):
        at.dot_backward(c[:, :4], cache)
    with pytest.raises(ValueError, match="dot_forward; got a cache of 'tuple'"):
        at.dot_backward(c[:, :4], ())


def test_bad_init_params_are_rejected():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="attention_size must be a positive integer; got 0"):
        at.init_params(2, 3, 0, rng)
    with pytest.raises(TypeError, match="query_size must be an integer; got float"):
        at.init_params(2.0, 3, 4, rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        at.init_params(2, 3, 4, 0)
