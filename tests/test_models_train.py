"""Sequence models and the training loop: shapes, equivalence, determinism, clipping."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from companion import tasks, train
from companion.interop import params_from_torch
from companion.models import SequenceModel, count_parameters
from companion.ref import rnn


@pytest.mark.parametrize("cell, G", [("rnn", 1), ("gru", 3), ("lstm", 4)])
@pytest.mark.parametrize("readout", ["last", "all"])
def test_shapes_and_parameter_count(cell, G, readout):
    model = SequenceModel(3, 8, 2, cell=cell, readout=readout)
    out = model(torch.randn(7, 5, 3))
    assert tuple(out.shape) == ((5, 2) if readout == "last" else (7, 5, 2))
    assert count_parameters(model) == G * (8 * 3 + 8 * 8 + 2 * 8) + 8 * 2 + 2
    assert model.encoder.batch_first is False


def test_rnn_model_equals_reference_rnn_plus_readout():
    torch.manual_seed(0)
    model = SequenceModel(2, 4, 1, nonlinearity="relu").double()
    x = np.random.default_rng(0).standard_normal((6, 3, 2))
    _, h_T, _ = rnn.forward(x, None, params_from_torch(model.encoder), "relu")
    W, b = model.readout.weight.detach().numpy(), model.readout.bias.detach().numpy()
    with torch.no_grad():
        out = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, h_T @ W.T + b, rtol=1e-12)


def test_importing_models_does_not_import_matplotlib():
    code = "import sys, companion.models, companion.train; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _run(seed, steps=30, clip=None, T=8):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SequenceModel(2, 16, 1)
    hist = train.train(
        model,
        lambda: tasks.adding_problem(T, 16, rng),
        train.mse,
        steps,
        lr=1e-2,
        clip=clip,
        progress=False,
    )
    return model, hist


def test_training_is_deterministic_and_reduces_the_loss():
    _, a = _run(0, steps=150, T=2)
    _, b = _run(0, steps=150, T=2)
    _, c = _run(1, steps=150, T=2)
    assert a.loss == b.loss and a.grad_norm == b.grad_norm
    assert a.loss != c.loss
    # with T = 2 both steps are marked, y = x_1 + x_2: far below the baseline 1/6 quickly
    assert a.final_loss(20) < 0.03 < 0.3 * np.mean(a.loss[:20])
    assert a.skipped == 0 and len(a.loss) == len(a.grad_norm) == 150


def test_clipping_caps_the_applied_gradient():
    model, hist = _run(0, steps=5, clip="norm")
    assert all(n > 0 for n in hist.grad_norm)
    # after a step, the gradient left in .grad is the clipped one
    assert math.sqrt(sum(float((p.grad**2).sum()) for p in model.parameters())) <= 1.0 + 1e-6
    model, _ = _run(0, steps=5, clip="value")
    assert max(float(p.grad.abs().max()) for p in model.parameters()) <= 1.0


def test_nonfinite_gradient_is_skipped_with_clipping():
    model = SequenceModel(2, 4, 1)
    before = [p.detach().clone() for p in model.parameters()]

    def batch():
        x, y = tasks.adding_problem(5, 4, np.random.default_rng(0))
        return x, np.full_like(y, np.inf)  # an infinite target: infinite gradient

    hist = train.train(model, batch, train.mse, 3, clip="norm", progress=False)
    assert hist.skipped == 3 and not any(math.isfinite(n) for n in hist.grad_norm)
    for p, q in zip(model.parameters(), before, strict=True):
        torch.testing.assert_close(p.detach(), q)  # weights unharmed


def test_losses_for_the_tasks():
    logits = torch.zeros(4, 2, 3)
    y = torch.zeros(4, 2, dtype=torch.long)
    mask = torch.zeros(4, 2, dtype=torch.bool)
    mask[-1] = True
    assert float(train.masked_cross_entropy(logits, y, mask)) == pytest.approx(math.log(3))
    assert float(train.cross_entropy(torch.zeros(5, 4), torch.zeros(5))) == pytest.approx(
        math.log(4)
    )
    x, y = tasks.adding_problem(10, 5000, np.random.default_rng(0))
    ones = torch.ones(5000, 1)
    assert float(train.mse(ones, torch.from_numpy(y))) == pytest.approx(1 / 6, abs=0.01)
    assert train.evaluate(_run(0, steps=1)[0], (x, y), train.mse) > 0


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: SequenceModel(2, 4, 1, cell="elman"), ValueError, "cell must be"),
        (lambda: SequenceModel(2, 4, 1, cell="gru", nonlinearity="relu"), ValueError, "rnn"),
        (lambda: SequenceModel(2, 4, 1, readout="mean"), ValueError, "readout"),
        (lambda: SequenceModel(2, 0, 1), ValueError, "hidden_size"),
        (lambda: SequenceModel(2, 4, 1)(torch.ones(3, 2, 5)), ValueError, r"\(3, 2, 5\)"),
        (lambda: SequenceModel(2, 4, 1)(np.ones((3, 2, 2))), TypeError, "torch.Tensor"),
        (lambda: train.train(SequenceModel(2, 4, 1), None, train.mse, 0), ValueError, "steps"),
        (
            lambda: train.train(SequenceModel(2, 4, 1), None, train.mse, 1, clip="x"),
            ValueError,
            "clip",
        ),
        (lambda: train.mse(torch.ones(2, 1), torch.ones(2)), ValueError, "one shape"),
        (lambda: train.History().final_loss(), ValueError, "empty"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
