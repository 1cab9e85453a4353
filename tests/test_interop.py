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


@pytest.mark.parametrize(
    "module, names",
    [
        (torch.nn.LSTM(2, 3, num_layers=2), r"weight_ih_l1, weight_hh_l1, .* \(num_layers=2,"),
        (torch.nn.GRU(2, 3, bidirectional=True), r"weight_ih_l0_reverse, .*bidirectional=True"),
        (torch.nn.LSTM(2, 3, proj_size=2), r"has weight_hr_l0 \(.*proj_size=2\)"),
    ],
    ids=["num_layers", "bidirectional", "proj_size"],
)
@pytest.mark.parametrize("direction", ["from", "to"])
def test_more_than_one_layer_is_rejected_naming_the_parameters_left_behind(
    module, names, direction
):
    with pytest.raises(ValueError, match=names + ".*companion.ref dict holds one layer"):
        if direction == "from":
            params_from_torch(module)
        else:
            params_to_torch(params_from_torch(torch.nn.LSTM(2, 3)), module)


def test_batch_first_does_not_matter_for_the_weights():
    module = torch.nn.GRU(2, 3, batch_first=True)
    params = params_from_torch(module)
    np.testing.assert_array_equal(params["W_hh"], module.weight_hh_l0.detach().double().numpy())


def test_bfloat16_needs_a_numpy_dtype_and_converts_exactly():
    module = torch.nn.LSTM(2, 3).to(torch.bfloat16)
    with pytest.raises(TypeError, match="bfloat16, which numpy has no dtype for; pass dtype"):
        params_from_torch(module, dtype=None)
    for dtype in (np.float32, np.float64):
        params = params_from_torch(module, dtype=dtype)
        assert params["W_ih"].dtype == dtype
        exact = module.weight_ih_l0.detach().double().numpy()
        np.testing.assert_array_equal(params["W_ih"], exact)
    params_to_torch(params, module)  # and back, rounding to bfloat16 (exact here)
    np.testing.assert_array_equal(module.weight_ih_l0.detach().double().numpy(), exact)


def test_float16_keeps_its_dtype_or_converts():
    module = torch.nn.RNN(2, 3).half()
    assert params_from_torch(module, dtype=None)["W_ih"].dtype == np.float16
    assert params_from_torch(module)["W_ih"].dtype == np.float64
    with pytest.raises(TypeError, match="dtype must be a numpy floating dtype or None"):
        params_from_torch(module, dtype=np.int32)


def test_torch_names_in_the_dict_are_reported():
    module = torch.nn.GRU(2, 3)
    with pytest.raises(ValueError, match=r"expected companion.ref's names .*torch's names "):
        params_to_torch(dict(module.state_dict()), module)
    with pytest.raises(TypeError, match="params must be a dict keyed"):
        params_to_torch(list(params_from_torch(module).values()), module)


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
