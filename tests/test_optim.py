"""The numpy optimisers: Adam step for step against torch.optim.Adam, SGD, errors."""

import numpy as np
import pytest
import torch

from companion.optim import SGD, Adam


def _problem(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((4, 3)).astype(dtype), "b": rng.standard_normal(4)}
    params["b"] = params["b"].astype(dtype)
    grads = [
        {
            k: (rng.standard_normal(p.shape) * 10.0 ** (i % 3 - 1)).astype(dtype)
            for k, p in params.items()
        }
        for i in range(7)
    ]
    return params, grads


@pytest.mark.parametrize(
    ("lr", "betas", "eps"),
    [(1e-3, (0.9, 0.999), 1e-8), (0.05, (0.5, 0.9), 1e-3), (0.1, (0.0, 0.0), 1e-8)],
)
def test_adam_matches_torch_step_for_step(lr, betas, eps):
    params, grads = _problem()
    tparams = {k: torch.tensor(p, requires_grad=True) for k, p in params.items()}
    topt = torch.optim.Adam(list(tparams.values()), lr=lr, betas=betas, eps=eps)
    opt = Adam(params, lr=lr, betas=betas, eps=eps)
    for g in grads:
        for k, t in tparams.items():
            t.grad = torch.from_numpy(g[k].copy())
        topt.step()
        opt.step(g)
        for k, t in tparams.items():
            np.testing.assert_allclose(params[k], t.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert opt.t == len(grads)


def test_adam_updates_in_place_and_keeps_dtype():
    params, grads = _problem(dtype=np.float32)
    W = params["W"]
    before = W.copy()
    Adam(params, lr=0.1).step(grads[0])
    assert params["W"] is W and W.dtype == np.float32
    # the first Adam step moves each entry by about lr in the direction of -sign(g)
    np.testing.assert_allclose(W, before - 0.1 * np.sign(grads[0]["W"]), rtol=1e-4, atol=1e-5)


def test_sgd_step():
    params, grads = _problem()
    before = {k: p.copy() for k, p in params.items()}
    opt = SGD(params, lr=0.5)
    opt.step(grads[0])
    opt.step(grads[1])
    for k in params:
        np.testing.assert_allclose(params[k], before[k] - 0.5 * (grads[0][k] + grads[1][k]))
    assert opt.t == 2


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_step_rejects_mismatched_grads(cls):
    params, grads = _problem()
    opt = cls(params, lr=0.1)
    with pytest.raises(ValueError, match=r"keys of params, \['W', 'b'\]; got \['W'\]"):
        opt.step({"W": grads[0]["W"]})
    with pytest.raises(ValueError, match=r"grads\['b'\] must have shape \(4,\) like params; got"):
        opt.step({"W": grads[0]["W"], "b": np.zeros(3)})
    with pytest.raises(TypeError, match=r"dtype float64 like params; got float32"):
        opt.step({"W": grads[0]["W"].astype(np.float32), "b": grads[0]["b"]})
    with pytest.raises(TypeError, match="grads must be a dict"):
        opt.step([grads[0]["W"]])


def test_constructors_reject_bad_input():
    params, _ = _problem()
    with pytest.raises(ValueError, match="lr must be a positive finite number; got -1"):
        Adam(params, lr=-1)
    with pytest.raises(
        ValueError, match=r"betas\[1\] must be a finite number in \[0, 1\); got 1.0"
    ):
        Adam(params, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="betas must be a pair"):
        Adam(params, betas=0.9)
    with pytest.raises(ValueError, match="eps must be a positive finite number"):
        Adam(params, eps=0.0)
    with pytest.raises(TypeError, match="params must be a dict"):
        SGD([params["W"]], lr=0.1)
    with pytest.raises(TypeError, match=r"params\['W'\] must be a floating numpy array"):
        SGD({"W": [1.0]}, lr=0.1)
    with pytest.raises(ValueError, match="params is empty"):
        Adam({})
