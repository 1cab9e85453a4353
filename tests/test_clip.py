"""Gradient clipping: the rule, the norm before clipping, zero and non-finite gradients."""

import math

import numpy as np
import pytest
import torch

from companion import clip


def _grads(scale, seed=0):
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal((3, 4)) * scale, "b": rng.standard_normal(3) * scale}


def _norm(g):
    return math.sqrt(sum(float(np.sum(v**2)) for v in g.values()))


def test_global_norm_is_the_norm_of_the_concatenation():
    g = _grads(1.0)
    flat = np.concatenate([v.ravel() for v in g.values()])
    assert clip.global_norm(g) == pytest.approx(np.linalg.norm(flat), rel=1e-14)
    assert clip.global_norm({"a": np.array([3.0]), "b": np.array([[4.0]])}) == 5.0
    assert clip.global_norm({"a": np.array([1e200, 1e200])}) == pytest.approx(math.sqrt(2) * 1e200)


def test_clip_by_global_norm_rescales_large_and_keeps_small():
    g = _grads(10.0)
    before = {k: v.copy() for k, v in g.items()}
    clipped, norm = clip.clip_by_global_norm(g, 1.0)
    assert norm == pytest.approx(_norm(before)) and norm > 1
    assert _norm(clipped) == pytest.approx(1.0, rel=1e-12)
    for k in g:  # same direction, input untouched
        np.testing.assert_allclose(clipped[k], before[k] / norm, rtol=1e-12)
        np.testing.assert_array_equal(g[k], before[k])
    small = _grads(0.01)
    same, n = clip.clip_by_global_norm(small, 1.0)
    assert n < 1
    for k in small:
        np.testing.assert_array_equal(same[k], small[k])
        assert same[k] is not small[k]


def test_zero_gradient_stays_zero():
    zero = {"W": np.zeros((2, 2)), "b": np.zeros(2)}
    for fn in (clip.clip_by_global_norm, clip.clip_by_value):
        clipped, norm = fn(zero, 1.0)
        assert norm == 0.0
        assert all(np.all(v == 0) and np.all(np.isfinite(v)) for v in clipped.values())


def test_clip_by_value_clamps_entries_and_can_turn_the_direction():
    g = {"a": np.array([10.0, 0.1, -3.0])}
    clipped, norm = clip.clip_by_value(g, 1.0)
    np.testing.assert_array_equal(clipped["a"], [1.0, 0.1, -1.0])
    assert norm == pytest.approx(np.linalg.norm(g["a"]))
    cosine = clipped["a"] @ g["a"] / (np.linalg.norm(clipped["a"]) * norm)
    assert cosine < 0.99  # unlike norm clipping, the direction changed


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("fn", [clip.clip_by_global_norm, clip.clip_by_value])
def test_nonfinite_numpy_raises_or_reports(fn, bad):
    g = _grads(1.0)
    g["b"][1] = bad
    with pytest.raises(clip.NonFiniteGradientError, match=r"\['b'\]"):
        fn(g, 1.0)
    out, norm = fn(g, 1.0, nonfinite="report")
    assert not math.isfinite(norm)
    np.testing.assert_array_equal(out["W"], g["W"])  # untouched, not NaN-ed
    assert np.isfinite(out["W"]).all()


def _torch_params(scale, seed=0):
    torch.manual_seed(seed)
    ps = [torch.nn.Parameter(torch.randn(3, 4, dtype=torch.float64)) for _ in range(2)]
    for p in ps:
        p.grad = torch.randn_like(p) * scale
    return ps


def test_torch_norm_clipping_matches_numpy_and_torch():
    ps = _torch_params(10.0)
    grads = {str(k): p.grad.numpy().copy() for k, p in enumerate(ps)}
    ref, ref_norm = clip.clip_by_global_norm(grads, 1.0)
    twin = _torch_params(10.0)
    torch_norm = torch.nn.utils.clip_grad_norm_(twin, 1.0)
    norm = clip.clip_grad_norm_(ps, 1.0)
    assert norm == pytest.approx(ref_norm, rel=1e-12) == pytest.approx(float(torch_norm))
    for k, p in enumerate(ps):
        np.testing.assert_allclose(p.grad.numpy(), ref[str(k)], rtol=1e-12)
        np.testing.assert_allclose(p.grad.numpy(), twin[k].grad.numpy(), rtol=1e-6)


def test_torch_value_clipping_and_zero_and_missing_grads():
    ps = _torch_params(10.0)
    norm = clip.clip_grad_value_(ps, 0.5)
    assert norm > 0.5 and all(p.grad.abs().max() <= 0.5 for p in ps)
    zero = _torch_params(0.0)
    assert clip.clip_grad_norm_(zero, 1.0) == 0.0 and all((p.grad == 0).all() for p in zero)
    no_grad = torch.nn.Parameter(torch.ones(2))
    assert clip.clip_grad_norm_([no_grad], 1.0) == 0.0 and no_grad.grad is None


@pytest.mark.parametrize("fn", [clip.clip_grad_norm_, clip.clip_grad_value_])
def test_torch_nonfinite_raises_or_reports_without_touching_weights(fn):
    ps = _torch_params(1.0)
    ps[1].grad[0, 0] = float("nan")
    kept = [p.grad.clone() for p in ps]
    with pytest.raises(clip.NonFiniteGradientError, match=r"\(3, 4\)"):
        fn(ps, 1.0)
    norm = fn(ps, 1.0, nonfinite="report")
    assert math.isnan(norm)
    torch.testing.assert_close(ps[0].grad, kept[0])  # finite gradient not rescaled by NaN


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: clip.clip_by_global_norm(_grads(1), 0.0), ValueError, "max_norm must be a pos"),
        (lambda: clip.clip_by_global_norm(_grads(1), "1"), TypeError, "max_norm must be a num"),
        (lambda: clip.clip_by_global_norm(_grads(1), True), TypeError, "max_norm must be a num"),
        (lambda: clip.clip_by_value(_grads(1), math.inf), ValueError, "clip_value must be a pos"),
        (lambda: clip.by_mode(_grads(1), "global", 1.0), ValueError, "mode must be one of"),
        (lambda: clip.by_mode_([], "global", 1.0), ValueError, "mode must be one of"),
        (lambda: clip.clip_by_global_norm([np.ones(2)], 1.0), TypeError, "dict of numpy"),
        (lambda: clip.clip_by_global_norm({"a": np.ones(2, int)}, 1.0), TypeError, "floating"),
        (lambda: clip.clip_by_global_norm(_grads(1), 1.0, "zero"), ValueError, "nonfinite"),
        (lambda: clip.clip_grad_norm_([np.ones(2)], 1.0), TypeError, "torch tensors"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- finite but huge gradients: the norm is scaled by the largest entry, never overflows ---


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e200), (np.float32, 1e30)])
def test_huge_finite_gradients_are_clipped_in_both_paths(dtype, big):
    """Entries of 1e200 in float64 (squares overflow float64) and 1e30 in float32 (squares
    overflow float32): the norm is their true norm, and the clipped gradient has norm 1."""
    g = {"W": np.full((3, 4), big, dtype=dtype), "b": np.full(3, -big, dtype=dtype)}
    true = math.sqrt(15) * float(dtype(big))  # float32(1e30) is not 1e30
    clipped, norm = clip.clip_by_global_norm(g, 1.0)
    assert norm == pytest.approx(true, rel=1e-12) and math.isfinite(norm)
    assert clip.global_norm(clipped) == pytest.approx(1.0, rel=1e-6)
    assert all(v.dtype == dtype for v in clipped.values())

    ps = [
        torch.nn.Parameter(torch.zeros(v.shape, dtype=getattr(torch, v.dtype.name)))
        for v in g.values()
    ]
    for p, v in zip(ps, g.values(), strict=True):
        p.grad = torch.from_numpy(v.copy())
    assert clip.torch_global_norm(ps) == pytest.approx(true, rel=1e-12)
    assert clip.clip_grad_norm_(ps, 1.0) == pytest.approx(true, rel=1e-12)
    assert clip.torch_global_norm(ps) == pytest.approx(1.0, rel=1e-6)
    for p, v in zip(ps, clipped.values(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), v, rtol=1e-6)
    assert clip.clip_grad_value_(ps, 0.1) == pytest.approx(1.0, rel=1e-6)  # finite: clamped


def test_a_norm_beyond_the_float64_range_is_not_usable():
    g = {"a": np.full(4, 1e308)}  # every entry finite, the norm 2e308 is not
    assert clip.global_norm(g) == math.inf and not clip.usable(clip.global_norm(g))
    with pytest.raises(clip.NonFiniteGradientError, match="every entry is finite"):
        clip.clip_by_global_norm(g, 1.0)


def test_the_loop_call_reports_instead_of_raising():
    g = _grads(10.0)
    g["b"][0] = np.nan
    for mode in clip.MODES:
        out, norm = clip.by_mode(g, mode, 1.0)
        assert math.isnan(norm) and not clip.usable(norm)
        np.testing.assert_array_equal(out["W"], g["W"])
    ps = _torch_params(10.0)
    assert clip.by_mode_(ps, None, 1.0) == pytest.approx(clip.torch_global_norm(ps))
    assert clip.by_mode_(ps, "norm", 1.0) > 1 and clip.torch_global_norm(ps) == pytest.approx(1)
