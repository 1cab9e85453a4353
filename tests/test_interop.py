"""Weights move between torch modules and companion.ref dicts, both ways, with checks."""

import numpy as np
import pytest
import torch

from companion.interop import params_from_torch, params_to_torch


@pytest.mark.parametrize("cls, G", [(torch.nn.RNN, 1), (torch.nn.LSTM, 4), (torch.nn.GRU, 3)])
def test_round_trip(cls, G):
    D, H = 3, 5
    module = cls(D, H)
    params = params_from_torch(module)
    assert params["W_ih"].shape == (G * H, D) and params["W_ih"].dtype == np.float64
    assert params["W_hh"].shape == (G * H, H)
    assert params["b_ih"].shape == params["b_hh"].shape == (G * H,)

    rng = np.random.default_rng(0)
    new = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    params_to_torch(new, module)
    back = params_from_torch(module)
    for k in new:  # the module is float32: equal to float32 precision
        np.testing.assert_allclose(back[k], new[k].astype(np.float32), rtol=0, atol=0)
    np.testing.assert_array_equal(module.weight_hh_l0.detach().numpy(), new["W_hh"].astype("f4"))


def test_keep_module_dtype():
    module = torch.nn.RNN(2, 3)
    assert params_from_torch(module, dtype=None)["W_ih"].dtype == np.float32


def test_copies_are_independent_of_the_module():
    module = torch.nn.GRU(2, 3)
    params = params_from_torch(module)
    params["W_ih"][:] = 0
    assert torch.count_nonzero(module.weight_ih_l0) > 0


def test_rejects_stacked_and_bidirectional():
    with pytest.raises(ValueError, match="num_layers=2"):
        params_from_torch(torch.nn.LSTM(2, 3, num_layers=2))
    with pytest.raises(ValueError, match="bidirectional=True"):
        params_from_torch(torch.nn.GRU(2, 3, bidirectional=True))


def test_rejects_other_modules_and_no_bias():
    with pytest.raises(TypeError, match="got Linear"):
        params_from_torch(torch.nn.Linear(2, 3))
    with pytest.raises(ValueError, match="bias=True"):
        params_from_torch(torch.nn.RNN(2, 3, bias=False))


def test_wrong_shape_into_torch():
    module = torch.nn.LSTM(2, 3)
    params = params_from_torch(module)
    params["W_hh"] = params["W_hh"][:3]  # one block instead of four
    expected = r"params\['W_hh'\] must have shape \(12, 3\).*got \(3, 3\)"
    with pytest.raises(ValueError, match=expected):
        params_to_torch(params, module)


def test_missing_key_into_torch():
    module = torch.nn.RNN(2, 3)
    params = params_from_torch(module)
    del params["b_ih"]
    with pytest.raises(ValueError, match=r"missing \['b_ih'\]"):
        params_to_torch(params, module)
