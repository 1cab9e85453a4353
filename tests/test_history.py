"""One History and one non-finite rule for both training loops (torch and numpy)."""

import math

import numpy as np
import pytest
import torch

from companion import charlm, clip, corpus, history, tasks, train
from companion.models import SequenceModel


def test_both_loops_return_the_one_history():
    assert train.History is history.History is charlm.History


def test_record_step_applies_the_clip_rule_and_counts_the_skipped():
    h = history.History()
    assert h.record_step(1.0, 2.0) and not h.record_step(3.0, math.inf)
    assert not h.record_step(float("nan"), float("nan"))
    assert h.loss[:2] == [1.0, 3.0] and h.skipped == 2 and len(h.grad_norm) == 3


def test_record_validation_aligns_everything_with_val_step():
    h = history.History()
    assert h.record_validation(5.0, {"acc": 0.1}, train_loss=6.0)  # step 0: given
    for v in (1.0, 2.0, 3.0, 4.0):
        h.record_step(v, 1.0)
    assert h.record_validation(4.0, {"acc": 0.5})
    h.record_step(0.5, 1.0)
    assert not h.record_validation(4.0, {"acc": 0.6})  # a tie is not a new best
    assert h.val_step == [0, 4, 5] and h.val_loss == [5.0, 4.0, 4.0]
    assert h.train_loss == [6.0, 2.5, 0.5] and h.metrics == {"acc": [0.1, 0.5, 0.6]}
    assert (h.best_step, h.best_val_loss, h.since_best) == (4, 4.0, 1)
    assert h.val_perplexity == pytest.approx([math.exp(5), math.exp(4), math.exp(4)])
    assert h.final_loss(2) == (4.0 + 0.5) / 2


def test_non_finite_validation_is_never_the_best():
    h = history.History()
    h.record_step(1.0, 1.0)
    assert not h.record_validation(float("nan")) and h.since_best == 1
    assert h.best_step is None and h.val_loss[0] != h.val_loss[0]


# --- the non-finite rule, in each loop: a NaN gradient is skipped, with or without clipping ---


def _torch_run(steps, bad_step, mode):
    torch.manual_seed(0)
    model = SequenceModel(2, 4, 1)
    rng, calls = np.random.default_rng(0), []

    def batch():
        calls.append(None)
        x, y = tasks.adding_problem(5, 4, rng)
        return x, np.full_like(y, np.nan) if len(calls) == bad_step else y

    hist = train.train(model, batch, tasks.mse, steps, clip=mode, progress=False)
    return hist, [p.detach().clone() for p in model.parameters()]


def _numpy_run(small, steps, bad_step, mode, monkeypatch):
    params = charlm.init_params(small.vocab.size, 8, np.random.default_rng(0))
    plain, states = charlm.loss_and_grads, []

    def poisoned(p, x_ids, y_ids, h0):
        states.append(h0.copy())
        loss, grads, h_T = plain(p, x_ids, y_ids, h0)
        if len(states) == bad_step:
            grads["W_hh"][0, 0] = np.nan
        return loss, grads, h_T

    monkeypatch.setattr(charlm, "loss_and_grads", poisoned)
    hist = charlm.train(params, small, steps, B=4, T=8, clip=mode, progress=False)
    return hist, [params[k].copy() for k in charlm.PARAM_NAMES], states


@pytest.fixture(scope="module")
def small():
    return corpus.load_stdlib_corpus(("bisect.py", "heapq.py"), ("sched.py",))


@pytest.mark.parametrize("mode", clip.MODES)
def test_a_nan_gradient_is_skipped_by_both_loops(mode, small, monkeypatch):
    """Step 2's gradient is NaN: both loops skip it (the weights after 2 steps are the weights
    after 1, bitwise), count it, and log its norm; with clipping on or off alike."""
    one, w1 = _torch_run(1, None, mode)
    two, w2 = _torch_run(2, 2, mode)
    assert two.skipped == 1 and math.isnan(two.grad_norm[1]) and one.skipped == 0
    assert all(torch.equal(a, b) for a, b in zip(w1, w2, strict=True))

    one, v1, _ = _numpy_run(small, 1, None, mode, monkeypatch)
    two, v2, states = _numpy_run(small, 3, 2, mode, monkeypatch)
    assert two.skipped == 1 and math.isnan(two.grad_norm[1]) and one.skipped == 0
    _, v2_only, _ = _numpy_run(small, 2, 2, mode, monkeypatch)
    for a, b in zip(v1, v2_only, strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.all(states[2] == 0) and np.any(states[1] != 0)  # the state restarts
    assert all(np.isfinite(v).all() for v in v2)
