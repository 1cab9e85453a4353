"""The family table agrees with torch, with companion.ref's module facts and with companion.nn."""

import numpy as np
import pytest
import torch

from companion import families
from companion.families import FAMILIES, PARAMETERS

NAMES = list(FAMILIES)


@pytest.mark.parametrize("name", NAMES)
def test_the_ref_modules_state_the_same_facts(name):
    family = families.get(name)
    plain, fast = family.ref(), family.ref(fast=True)
    assert plain.FAMILY == name and fast.FAMILY == f"{name}_fast"
    assert plain.G == family.G == len(family.blocks)
    if hasattr(plain, "GATES"):  # the LSTM and the GRU name their blocks
        assert plain.GATES == family.blocks
    params = plain.init_params(3, 5, np.random.default_rng(0))
    assert params["W_ih"].shape == (family.G * 5, 3)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("D, H", [(1, 1), (3, 5), (10, 20)])
def test_torch_has_the_blocks_names_and_count(name, D, H):
    family = families.get(name)
    module = family.torch_class()(D, H)
    assert families.of_torch_module(module) is family
    assert [n for n, _ in module.named_parameters()] == list(PARAMETERS.values())
    assert module.weight_ih_l0.shape == (family.G * H, D)
    assert family.count(D, H) == sum(p.numel() for p in module.parameters())
    assert family.count(D, H, torch_biases=False) == family.G * (H * (D + H) + H)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_the_nn_modules_have_torch_parameters(name):
    family = families.get(name)
    ours = family.nn_class()(3, 5)
    theirs = family.torch_class()(3, 5)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }


def test_lookups_and_their_errors():
    assert families.get("LSTM") is FAMILIES["lstm"]
    with pytest.raises(ValueError, match=r"family must be one of \('rnn', 'lstm', 'gru'\)"):
        families.get("transformer")
    with pytest.raises(ValueError, match="rnn family has no companion.nn module"):
        families.get("rnn").nn_class()

    class MyGRU(torch.nn.GRU):
        pass

    assert families.of_torch_module(MyGRU(2, 3)).name == "gru"
    with pytest.raises(TypeError, match="got Linear"):
        families.of_torch_module(torch.nn.Linear(2, 3))
    with pytest.raises(TypeError, match="torch_biases must be a bool"):
        families.get("gru").count(2, 3, torch_biases=1)


def test_the_gate_that_keeps_the_old_state_is_the_second_block_of_each_gated_family():
    # chapter 5: the LSTM's f and the GRU's z (torch's convention) share the rows H:2H
    kept = {name: f.keeps for name, f in families.FAMILIES.items()}
    assert kept == {"rnn": None, "lstm": "f", "gru": "z"}
    for family in (families.get("lstm"), families.get("gru")):
        assert family.blocks.index(family.keeps) == 1
