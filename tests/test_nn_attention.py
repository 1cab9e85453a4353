"""The torch attention modules: parameters and their draw, the masked softmax, the dot product
against torch's scaled_dot_product_attention, Tq queries at once, and every bad input."""

import math

import pytest
import torch
from torch.nn import functional as F

from companion.nn.attention import AdditiveAttention, DotProductAttention, masked_softmax

F64 = torch.float64
CLOSE = {"rtol": 1e-12, "atol": 1e-13}


def _inputs(Tq=3, S=5, B=4, Dq=6, Dk=6, Dv=None, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(Tq, B, Dq, generator=g, dtype=dtype)
    keys = torch.randn(S, B, Dk, generator=g, dtype=dtype)
    values = None if Dv is None else torch.randn(S, B, Dv, generator=g, dtype=dtype)
    lengths = torch.randint(1, S + 1, (B,), generator=g)
    lengths[0] = max(1, S - 2)  # at least one column padded when S > 1
    mask = torch.arange(S)[:, None] < lengths[None, :]  # (S, B), padding at the end
    return query, keys, mask, values


def _additive(Dq=6, Dk=6, A=5, seed=0):
    torch.manual_seed(seed)
    return AdditiveAttention(Dq, Dk, A, dtype=F64)


# --- parameters -----------------------------------------------------------------------------
def test_additive_parameters_are_named_shaped_and_drawn_as_linear():
    torch.manual_seed(0)
    m = AdditiveAttention(16, 25, 100)
    shapes = {n: tuple(p.shape) for n, p in m.named_parameters()}
    assert shapes == {"W_q": (100, 16), "W_k": (100, 25), "v": (100,)}
    for name, fan_in in [("W_q", 16), ("W_k", 25), ("v", 100)]:
        p, bound = getattr(m, name), 1 / math.sqrt(fan_in)
        assert p.dtype == torch.float32
        assert 0.9 * bound < p.abs().max().item() <= bound, name
        # the bound of torch.nn.Linear(fan_in, A)'s weights, which kaiming_uniform_ sets
        torch.manual_seed(1)
        linear = torch.nn.Linear(fan_in, 100, bias=False)
        assert linear.weight.abs().max().item() <= bound
    assert AdditiveAttention(2, 3, 4, dtype=F64).v.dtype == F64
    assert repr(AdditiveAttention(2, 3, 4)) == "AdditiveAttention(2, 3, 4)"
    assert list(DotProductAttention().parameters()) == []
    assert repr(DotProductAttention(scaled=True)) == "DotProductAttention(scaled=True)"


def test_the_draw_is_reproducible():
    torch.manual_seed(3)
    a = AdditiveAttention(3, 4, 5)
    torch.manual_seed(3)
    b = AdditiveAttention(3, 4, 5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


# --- masked_softmax -------------------------------------------------------------------------
def test_masked_softmax_zeroes_the_padding_and_passes_no_gradient_there():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 4, 6, generator=g, dtype=F64, requires_grad=True)
    mask = torch.rand(4, 6, generator=g) < 0.6
    mask[:, 0] = True  # one real position per row at least
    a = masked_softmax(scores, mask)  # mask (4, 6) broadcasts over the leading axis
    assert torch.all(a[:, ~mask] == 0.0) and torch.all(a[:, mask] > 0.0)
    torch.testing.assert_close(a.sum(-1), torch.ones(3, 4, dtype=F64), rtol=0, atol=1e-15)
    (a * torch.randn(3, 4, 6, generator=g, dtype=F64)).sum().backward()
    assert torch.all(scores.grad[:, ~mask] == 0.0)
    # equal to the softmax of the real positions alone, row by row
    for i in range(4):
        real = torch.softmax(scores[0, i, mask[i]], dim=-1)
        torch.testing.assert_close(a[0, i, mask[i]], real, rtol=1e-14, atol=0)
    torch.testing.assert_close(
        masked_softmax(scores, None), torch.softmax(scores, -1), rtol=0, atol=0
    )


@pytest.mark.parametrize(
    "scores, mask, error, match",
    [
        (torch.zeros(2, 3), torch.tensor([[True, True, True], [False] * 3]), ValueError, "row"),
        (torch.zeros(2, 0), None, ValueError, r"S >= 1; got \(2, 0\).*empty source"),
        (torch.zeros(2, 3), torch.ones(2, 3), TypeError, "torch.bool tensor.*torch.float32"),
        (torch.zeros(2, 3), torch.ones(3, 2, dtype=torch.bool), ValueError, "does not broadcast"),
        (torch.zeros(2, 3), torch.ones(2, 2, 3, dtype=torch.bool), ValueError, "broadcast"),
        (torch.zeros(2, 3, dtype=torch.long), None, TypeError, "floating torch.Tensor"),
        ([[0.0, 1.0]], None, TypeError, "floating torch.Tensor.*got a list"),
    ],
)
def test_masked_softmax_rejects_bad_input(scores, mask, error, match):
    with pytest.raises(error, match=match):
        masked_softmax(scores, mask)


# --- the dot product against torch --------------------------------------------------------------
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("scaled", [False, True], ids=["dot", "scaled"])
@pytest.mark.parametrize("Dv", [None, 3], ids=["values=keys", "Dv=3"])
@pytest.mark.parametrize("Tq, S, B", [(1, 1, 1), (1, 7, 3), (4, 5, 2), (6, 1, 3)])
def test_dot_product_matches_scaled_dot_product_attention(Tq, S, B, Dv, scaled, masked):
    query, keys, mask, values = _inputs(Tq, S, B, 8, 8, Dv, seed=Tq + S + B)
    mask = mask if masked else None
    context, weights = DotProductAttention(scaled)(query, keys, mask, values)
    values = keys if values is None else values
    attn_mask = None if mask is None else mask.T[:, None, :].expand(B, Tq, S)  # (B, Tq, S)
    theirs = F.scaled_dot_product_attention(
        query.transpose(0, 1),  # (B, Tq, D)
        keys.transpose(0, 1),  # (B, S, D)
        values.transpose(0, 1),  # (B, S, Dv)
        attn_mask=attn_mask,
        **({} if scaled else {"scale": 1.0}),  # default: 1 / sqrt(D)
    ).transpose(0, 1)  # (Tq, B, Dv)
    torch.testing.assert_close(context, theirs, **CLOSE)
    e = torch.einsum("tbd,sbd->tbs", query, keys) / (math.sqrt(8) if scaled else 1.0)
    if mask is not None:
        e = e.masked_fill(~mask.T, -math.inf)
    torch.testing.assert_close(weights, torch.softmax(e, -1), **CLOSE)


def test_scaling_divides_the_scores_by_sqrt_d():
    query, keys, _, _ = _inputs(2, 5, 3, 9, 9)
    _, plain = DotProductAttention()(query / 3.0, keys)  # q^T k / sqrt(9)
    _, scaled = DotProductAttention(scaled=True)(query, keys)
    torch.testing.assert_close(scaled, plain, **CLOSE)
    assert not torch.allclose(DotProductAttention()(query, keys)[1], scaled)


# --- both modules ------------------------------------------------------------------------------
MODULES = {
    "additive": lambda: _additive(6, 6, 5),
    "dot": lambda: DotProductAttention(),
    "scaled": lambda: DotProductAttention(scaled=True),
}


@pytest.mark.parametrize("Dv", [None, 2], ids=["values=keys", "Dv=2"])
@pytest.mark.parametrize("kind", MODULES)
def test_tq_queries_at_once_equal_tq_separate_calls(kind, Dv):
    module = MODULES[kind]()
    query, keys, mask, values = _inputs(5, 7, 3, Dv=Dv, seed=1)
    context, weights = module(query, keys, mask, values)
    assert context.shape == (5, 3, Dv or 6) and weights.shape == (5, 3, 7)
    for t in range(5):
        c_t, a_t = module(query[t : t + 1], keys, mask, values)  # one decoder step, Tq = 1
        torch.testing.assert_close(c_t[0], context[t], rtol=1e-14, atol=1e-15)
        torch.testing.assert_close(a_t[0], weights[t], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("kind", MODULES)
def test_masked_weights_are_exactly_zero_the_rest_sum_to_one_and_padding_is_ignored(kind):
    module = MODULES[kind]()
    query, keys, mask, values = _inputs(3, 6, 4, Dv=2, seed=2)
    keys.requires_grad_(True)
    context, weights = module(query, keys, mask, values)
    assert not mask.all()
    assert torch.all(weights[:, ~mask.T] == 0.0) and torch.all(weights[:, mask.T] > 0.0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, dtype=F64), rtol=0, atol=1e-15)
    torch.testing.assert_close(context, torch.einsum("tbs,sbd->tbd", weights, values), **CLOSE)
    (context.sum() + (weights * torch.randn_like(weights)).sum()).backward()
    assert torch.all(keys.grad[~mask] == 0.0) and keys.grad[mask].abs().max() > 0.0
    # what sits at the padded positions does not matter
    noisy = keys.detach().clone()
    noisy[~mask] = 1e3
    c2, a2 = module(query, noisy, mask, values)
    torch.testing.assert_close(c2, context, **CLOSE)
    assert torch.equal(a2, weights)
    # an all-True mask is no mask
    c3, a3 = module(query, keys, torch.ones_like(mask), values)
    c4, a4 = module(query, keys, None, values)
    assert torch.equal(c3, c4) and torch.equal(a3, a4)


def test_one_source_position_is_a_copy():
    query, keys, _, _ = _inputs(2, 1, 3)
    for module in (_additive(), DotProductAttention()):
        context, weights = module(query, keys)
        assert torch.equal(weights, torch.ones(2, 3, 1, dtype=F64))
        torch.testing.assert_close(context, keys.expand(2, 3, 6), rtol=1e-15, atol=0)


def test_additive_scores_are_the_equation():
    module = _additive(4, 3, 5)
    query, keys, mask, _ = _inputs(2, 6, 3, 4, 3, seed=4)
    _, weights = module(query, keys, mask)
    for t in range(2):
        for b in range(3):
            u = module.W_q @ query[t, b] + keys[:, b] @ module.W_k.T  # (S, A)
            e = torch.tanh(u) @ module.v  # (S,)
            a = torch.softmax(e[mask[:, b]], -1)
            torch.testing.assert_close(weights[t, b, mask[:, b]], a, **CLOSE)


def test_additive_gradients_pass_torch_gradcheck():
    module = _additive(3, 4, 2)
    query, keys, mask, values = _inputs(2, 4, 3, 3, 4, Dv=2, seed=5)
    args = [t.requires_grad_(True) for t in (query, keys, values)]
    # the inputs' gradients; the parameters' are matched to numpy's in test_ref_attention
    assert torch.autograd.gradcheck(lambda q, k, v: module(q, k, mask, v), args)


def test_projected_keys_give_the_same_result():
    module = _additive()
    query, keys, mask, _ = _inputs(3, 5, 2, seed=6)
    kW = module.project_keys(keys)
    assert kW.shape == (5, 2, 5)
    c1, a1 = module(query, keys, mask)
    c2, a2 = module(query, keys, mask, projected_keys=kW)
    assert torch.equal(c1, c2) and torch.equal(a1, a2)
    with pytest.raises(ValueError, match=r"projected_keys must have shape \(5, 2, 5\); got"):
        module(query, keys, mask, projected_keys=kW[:, :, :4])
    with pytest.raises(TypeError, match="projected_keys has dtype torch.float32"):
        module(query, keys, mask, projected_keys=kW.float())
    with pytest.raises(ValueError, match=r"Dk=6; got \(5, 2, 3\)"):
        module.project_keys(keys[..., :3])


def test_float32_by_default():
    torch.manual_seed(0)
    query, keys, mask, _ = _inputs(1, 4, 2, dtype=torch.float32)
    context, weights = AdditiveAttention(6, 6, 3)(query, keys, mask)
    assert context.dtype == weights.dtype == torch.float32


# --- bad input -------------------------------------------------------------------------------
Q, K, MASK, V = _inputs(2, 3, 4, 6, 6, Dv=2)  # Tq=2, S=3, B=4, Dq=Dk=6
EMPTY = MASK.clone()
EMPTY[:, 2] = False
ADD, DOT = _additive(6, 6, 5), DotProductAttention()
BOTH = [("additive", ADD), ("dot", DOT)]
BAD = [
    ("query 2-d", {"query": Q[0]}, ValueError, r"\(Tq, B, Dq\), time-major.*2 dim.*query\[None\]"),
    ("keys 4-d", {"keys": K[None]}, ValueError, r"\(S, B, Dk\), time-major with 3 dim.*got 4"),
    ("values 2-d", {"values": V[0]}, ValueError, r"values must have shape \(S, B, Dv\)"),
    ("query an array", {"query": Q.numpy()}, TypeError, "query must be a torch.Tensor.*ndarray"),
    ("batch sizes differ", {"keys": K[:, :3]}, ValueError, r"one batch size B.*got 4 and 3"),
    ("values' batch", {"values": V[:, :3]}, ValueError, r"\(S, B\) = \(3, 4\) as the keys"),
    ("S = 0", {"keys": K[:0], "mask": None}, ValueError, "S = 0 positions.*empty source"),
    ("Tq = 0", {"query": Q[:0]}, ValueError, "Tq = 0 steps"),
    ("mask float", {"mask": MASK.double()}, TypeError, r"torch.bool tensor of shape \(S, B\)"),
    ("mask batch-first", {"mask": MASK.T}, ValueError, r"\(S, B\) = \(3, 4\).*got \(4, 3\)"),
    ("mask a list", {"mask": MASK.tolist()}, TypeError, "torch.bool tensor.*got a list"),
    ("column of padding", {"mask": EMPTY}, ValueError, r"batch column\(s\) \[2\]: an empty"),
]  # fmt: skip


@pytest.mark.parametrize("change, error, match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
@pytest.mark.parametrize("kind, module", BOTH, ids=[k for k, _ in BOTH])
def test_bad_input_is_rejected(kind, module, change, error, match):
    args = {"query": Q, "keys": K, "mask": MASK, "values": V} | change
    with pytest.raises(error, match=match):
        module(**args)


def test_sizes_and_dtypes_are_checked():
    with pytest.raises(ValueError, match=r"query must have shape \(Tq, B, Dq\) with Dq=6; got"):
        ADD(Q[..., :5], K)
    with pytest.raises(ValueError, match=r"keys must have shape \(S, B, Dk\) with Dk=6; got"):
        ADD(Q, K[..., :5])
    with pytest.raises(ValueError, match=r"Dq=6 \(query \(2, 4, 6\)\) and Dk=5 \(keys"):
        DOT(Q, K[..., :5])
    with pytest.raises(TypeError, match="query has dtype torch.float32 but the parameters are"):
        ADD(Q.float(), K)
    with pytest.raises(TypeError, match="values has dtype torch.float32 but the parameters"):
        ADD(Q, K, values=V.float())
    with pytest.raises(TypeError, match="keys has dtype torch.float32 but the query is"):
        DOT(Q, K.float())
    with pytest.raises(TypeError, match="values has dtype torch.float32 but the query is"):
        DOT(Q, K, values=V.float())
    with pytest.raises(TypeError, match="query must be a floating tensor"):
        DOT(Q.long(), K.long())


def test_bad_constructor_arguments_are_rejected():
    with pytest.raises(ValueError, match="attention_size must be a positive integer; got 0"):
        AdditiveAttention(2, 3, 0)
    with pytest.raises(TypeError, match="key_size must be an integer; got float"):
        AdditiveAttention(2, 3.0, 4)
    with pytest.raises(TypeError, match="scaled must be a bool; got str"):
        DotProductAttention("yes")
