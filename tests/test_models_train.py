"""Sequence models and the training loop: shapes, equivalence, determinism, clipping."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from companion import tasks, tbptt, train
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


def test_sequence_model_around_any_encoder():
    """A module as the cell: the same model as the name gives, for the same weights; a
    bidirectional encoder gives the readout 2H features."""
    torch.manual_seed(0)
    by_name = SequenceModel(3, 5, 2, cell="gru", readout="all")
    torch.manual_seed(0)
    around = SequenceModel(3, 5, 2, cell=torch.nn.GRU(3, 5), readout="all")
    x = torch.randn(4, 2, 3)
    torch.testing.assert_close(by_name(x), around(x), rtol=0, atol=0)  # same draws, same order
    assert around.readout_kind == "all" and isinstance(around.readout, torch.nn.Linear)
    assert list(by_name.state_dict()) == list(around.state_dict())
    both = SequenceModel(3, 5, 2, cell=torch.nn.LSTM(3, 5, bidirectional=True).double())
    assert both.readout.in_features == 10 and both.readout.weight.dtype == torch.float64
    assert both(x.double()).shape == (2, 2)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (
            lambda: SequenceModel(2, 4, 1, cell=torch.nn.GRU(3, 4)),
            ValueError,
            r"\(2, 4\); got \(3, 4\)",
        ),
        (lambda: SequenceModel(2, 4, 1, cell=torch.nn.Linear(2, 4)), ValueError, "got \\(None"),
        (
            lambda: SequenceModel(2, 4, 1, cell=torch.nn.GRU(2, 4, batch_first=True)),
            ValueError,
            "batch_first=True; SequenceModel is time-major",
        ),
        (lambda: SequenceModel(2, 4, 1, cell=3), TypeError, "family name or a module; got int"),
        (
            lambda: SequenceModel(2, 4, 1, cell=torch.nn.GRU(2, 4), nonlinearity="relu"),
            ValueError,
            "cell='rnn' only",
        ),
        (lambda: SequenceModel(2, 4, True), TypeError, "output_size must be an integer"),
        (lambda: SequenceModel(2.0, 4, 1), TypeError, "input_size must be an integer"),
        (lambda: SequenceModel(2, 4, 1)(torch.ones(0, 2, 2)), ValueError, r"T, B >= 1"),
    ],
)
def test_sequence_model_bad_input(make, error, match):
    with pytest.raises(error, match=match):
        make()


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
        tasks.mse,
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

    hist = train.train(model, batch, tasks.mse, 3, clip="norm", progress=False)
    assert hist.skipped == 3 and not any(math.isfinite(n) for n in hist.grad_norm)
    for p, q in zip(model.parameters(), before, strict=True):
        torch.testing.assert_close(p.detach(), q)  # weights unharmed


def test_evaluate_scores_a_fixed_batch_with_the_loss():
    # the losses themselves are tested with the tasks (tests/test_tasks.py)
    x, y = tasks.adding_problem(10, 500, np.random.default_rng(0))
    model = _run(0, steps=1)[0]
    with torch.no_grad():
        direct = float(tasks.mse(model(torch.from_numpy(x).float()), torch.from_numpy(y)))
    assert train.evaluate(model, (x, y), tasks.mse) == pytest.approx(direct, rel=1e-6)
    assert model.training  # evaluate restores the mode it found


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: SequenceModel(2, 4, 1, cell="elman"), ValueError, "cell must be"),
        (lambda: SequenceModel(2, 4, 1, cell="gru", nonlinearity="relu"), ValueError, "rnn"),
        (lambda: SequenceModel(2, 4, 1, readout="mean"), ValueError, "readout"),
        (lambda: SequenceModel(2, 0, 1), ValueError, "hidden_size"),
        (lambda: SequenceModel(2, 4, 1)(torch.ones(3, 2, 5)), ValueError, r"\(3, 2, 5\)"),
        (lambda: SequenceModel(2, 4, 1)(np.ones((3, 2, 2))), TypeError, "torch.Tensor"),
        (lambda: train.train(SequenceModel(2, 4, 1), None, tasks.mse, 0), ValueError, "steps"),
        (lambda: train.train(SequenceModel(2, 4, 1), None, tasks.mse, True), TypeError, "steps"),
        (lambda: train.train(SequenceModel(2, 4, 1), None, tasks.mse, 2.0), TypeError, "steps"),
        (lambda: train.train(SequenceModel(2, 4, 1), None, tasks.mse, 1), TypeError, "batch_fn"),
        (lambda: train.train(torch.ones(2), None, tasks.mse, 1), TypeError, "torch.nn.Module"),
        (
            lambda: train.train(SequenceModel(2, 4, 1), None, tasks.mse, 1, clip="x"),
            ValueError,
            "clip",
        ),
        (lambda: tasks.mse(torch.ones(2, 1), torch.ones(2)), ValueError, "one shape"),
        (lambda: train.History().final_loss(), ValueError, "empty"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- validation, early stopping, best weights -------------------------------------------------


class Scripted:
    """A validation function that returns the given scores in turn and keeps a copy of the
    weights it was shown, and whether the model was in eval mode, at each call."""

    def __init__(self, scores):
        self.scores, self.weights, self.eval_mode = list(scores), [], []

    def __call__(self, model):
        self.weights.append([p.detach().clone() for p in model.parameters()])
        self.eval_mode.append(not model.training)
        return self.scores[len(self.weights) - 1]


def _fit(steps, validation, seed=0, **kwargs):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SequenceModel(2, 8, 1)
    hist = train.train(
        model,
        lambda: tasks.adding_problem(4, 8, rng),
        tasks.mse,
        steps,
        lr=1e-2,
        progress=False,
        validation=validation,
        **kwargs,
    )
    return model, hist


def test_early_stopping_stops_when_the_patience_runs_out():
    # best at the 2nd validation (step 20), then 3 validations without a new best: stop at 50
    score = Scripted([5.0, 1.0, 2.0, 1.0, 3.0, 0.5, 0.1])
    _, hist = _fit(200, score, eval_every=10, patience=3)
    assert hist.stopped_early
    assert len(hist.loss) == len(hist.grad_norm) == 50  # training really stopped
    assert hist.val_step == [10, 20, 30, 40, 50] and hist.val_loss == [5.0, 1.0, 2.0, 1.0, 3.0]
    assert hist.best_step == 20 and hist.best_val_loss == 1.0  # a tie is not an improvement


def test_early_stopping_on_validation_data_that_training_makes_worse():
    # validation targets negated: the better the model fits the adding problem, the worse it
    # scores, so the patience runs out long before the 1,000 steps
    x, y = tasks.adding_problem(4, 256, np.random.default_rng(7))
    anti = (x, -y)
    model, hist = _fit(1000, anti, eval_every=10, patience=3)
    assert hist.stopped_early and len(hist.loss) < 1000
    assert len(hist.val_loss) == len(hist.loss) // 10
    assert hist.best_val_loss == min(hist.val_loss) < hist.val_loss[-1]
    # the model leaves with the weights of the best validation, not the last
    assert train.evaluate(model, anti, tasks.mse) == pytest.approx(hist.best_val_loss)


def test_a_new_best_resets_the_patience():
    score = Scripted([3.0, 4.0, 2.0, 5.0, 1.0, 6.0, 7.0, 8.0])
    _, hist = _fit(80, score, eval_every=10, patience=2)
    assert len(hist.loss) == 70 and hist.stopped_early
    assert hist.best_step == 50 and hist.best_val_loss == 1.0


def test_without_patience_every_step_runs_and_the_last_step_is_validated():
    score = Scripted([3.0, 2.0, 1.0])
    _, hist = _fit(25, score, eval_every=10)
    assert len(hist.loss) == 25 and not hist.stopped_early
    assert hist.val_step == [10, 20, 25] and hist.best_step == 25


def test_stop_ends_the_training_when_it_says_so():
    # stop once the score is below 1: at the 3rd validation (step 30) of 10
    score = Scripted([5.0, 2.0, 0.5, 0.4, 0.3])
    seen = []

    def below_one(history):
        seen.append((list(history.val_step), list(history.val_loss)))
        return history.val_loss[-1] < 1

    model, hist = _fit(100, score, eval_every=10, stop=below_one)
    assert hist.stopped_early and len(hist.loss) == len(hist.grad_norm) == 30
    assert seen == [([10], [5.0]), ([10, 20], [5.0, 2.0]), ([10, 20, 30], [5.0, 2.0, 0.5])]
    for p, best in zip(model.parameters(), score.weights[2], strict=True):
        torch.testing.assert_close(p.detach(), best, rtol=0, atol=0)
    # the training run up to the stop is the run without it
    _, full = _fit(100, Scripted([5.0, 2.0, 0.5] + [0.4] * 7), eval_every=10)
    assert not full.stopped_early and hist.loss == full.loss[:30]


def test_stop_is_not_asked_after_the_last_update_and_patience_comes_first():
    calls = []
    _, hist = _fit(25, Scripted([3.0, 2.0, 1.0]), eval_every=10, stop=calls.append)
    assert len(hist.loss) == 25 and not hist.stopped_early and len(calls) == 2
    # a stop that never fires leaves the patience in charge; patience stops before stop is asked
    calls = []
    _, hist = _fit(100, Scripted([1.0, 2.0, 3.0]), eval_every=10, patience=2, stop=calls.append)
    assert hist.stopped_early and len(hist.loss) == 30 and len(calls) == 2


def test_stop_without_validation_sees_the_training_losses():
    # no validation or metrics: stop is still asked every eval_every updates
    _, hist = _fit(200, None, eval_every=20, stop=lambda h: len(h.loss) >= 60)
    assert hist.stopped_early and len(hist.loss) == 60 and hist.val_step == []


def test_the_best_weights_are_restored():
    score = Scripted([2.0, 0.5, 1.0, 3.0])
    model, hist = _fit(40, score, eval_every=10)
    assert hist.best_step == 20
    for p, best, last in zip(model.parameters(), score.weights[1], score.weights[-1], strict=True):
        torch.testing.assert_close(p.detach(), best, rtol=0, atol=0)
        assert not torch.equal(best, last)  # so the check above can tell them apart
    # restore_best=False keeps the weights of the last step
    score = Scripted([2.0, 0.5, 1.0, 3.0])
    model, _ = _fit(40, score, eval_every=10, restore_best=False)
    for p, last in zip(model.parameters(), score.weights[-1], strict=True):
        torch.testing.assert_close(p.detach(), last, rtol=0, atol=0)


def test_validation_batch_is_scored_with_the_loss_in_eval_mode():
    val = tasks.adding_problem(4, 256, np.random.default_rng(99))
    model, hist = _fit(60, val, eval_every=20)
    assert hist.val_step == [20, 40, 60]
    assert hist.best_val_loss == min(hist.val_loss) < hist.val_loss[0]  # training helped
    assert train.evaluate(model, val, tasks.mse) == pytest.approx(hist.best_val_loss)

    # a model with dropout is scored in eval mode and handed back in training mode
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        SequenceModel(2, 8, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1)
    )
    score = Scripted([1.0, 1.0])
    rng = np.random.default_rng(0)
    batch = lambda: tasks.adding_problem(4, 8, rng)  # noqa: E731
    train.train(model, batch, tasks.mse, 20, validation=score, eval_every=10, progress=False)
    assert score.eval_mode == [True, True] and model.training


def test_validation_does_not_change_the_training_run():
    _, plain = _fit(50, None)
    val = tasks.adding_problem(4, 64, np.random.default_rng(5))
    _, watched = _fit(50, val, eval_every=10, restore_best=False)
    assert plain.loss == watched.loss and plain.grad_norm == watched.grad_norm
    assert plain.val_loss == [] and plain.best_step is None


def test_non_finite_scores_are_never_the_best():
    model, hist = _fit(100, lambda m: float("nan"), eval_every=10, patience=2)
    assert hist.stopped_early and len(hist.loss) == 20
    assert hist.best_step is None and hist.best_val_loss is None  # the last weights are kept
    score = Scripted([float("inf"), 2.0, float("nan"), 3.0])
    _, hist = _fit(40, score, eval_every=10)
    assert hist.best_step == 20 and hist.best_val_loss == 2.0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"validation": 5}, TypeError, r"batch \(x, \*targets\).*function model -> float.*int"),
        ({"validation": SequenceModel(2, 4, 1)}, TypeError, "SequenceModel"),
        ({"validation": (np.ones((3, 2, 2)),)}, ValueError, r"\(x, \*targets\).*length 1"),
        ({"validation": lambda m: "low"}, TypeError, "must return a number; got str"),
        ({"eval_every": 0}, ValueError, "eval_every must be a positive integer; got 0"),
        ({"eval_every": True}, TypeError, "eval_every must be an integer"),
        ({"validation": lambda m: 1.0, "patience": 0}, ValueError, "patience must be a pos"),
        ({"validation": lambda m: 1.0, "patience": 2.5}, TypeError, "patience.*integer.*2.5"),
        ({"validation": lambda m: 1.0, "patience": True}, TypeError, "patience.*integer"),
        ({"patience": 3}, ValueError, "patience needs validation"),
        ({"validation": lambda m: 1.0, "restore_best": "yes"}, TypeError, "True or False"),
        ({"lr": 0.0}, ValueError, "lr must be a positive"),
        ({"lr": "0.1"}, TypeError, "lr must be a number"),
        ({"clip": "norm", "clip_at": -1.0}, ValueError, "clip_at must be"),
        ({"metrics": [lambda m: 1.0]}, TypeError, "metrics must be None or a dict"),
        ({"metrics": {"acc": 1.0}}, TypeError, r"metrics\['acc'\] must be a function"),
        ({"metrics": {"acc": lambda m: "high"}}, TypeError, r"metrics\['acc'\] must return a n"),
        ({"window": 0}, ValueError, "window must be a positive integer"),
        ({"carry_state": 1}, TypeError, "carry_state must be True or False"),
        ({"forward": "encoder"}, TypeError, "forward must be a function"),
        ({"stop": True}, TypeError, "stop must be a function; got bool"),
    ],
)
def test_bad_validation_arguments(kwargs, error, match):
    rng = np.random.default_rng(0)
    with pytest.raises(error, match=match):
        train.train(
            SequenceModel(2, 4, 1),
            lambda: tasks.adding_problem(4, 2, rng),
            tasks.mse,
            10,
            eval_every=kwargs.pop("eval_every", 5),
            progress=False,
            **kwargs,
        )


def test_evaluate_switches_dropout_off_and_restores_the_mode():
    """evaluate scores in eval mode: with dropout the score is deterministic, and the
    model leaves in the mode it came in."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 50), torch.nn.Dropout(0.5), torch.nn.Linear(50, 1)
    )
    batch = (np.ones((8, 3)), np.zeros((8, 1)))
    model.train()
    scores = {train.evaluate(model, batch, tasks.mse) for _ in range(5)}
    assert len(scores) == 1 and model.training
    model.eval()
    train.evaluate(model, batch, tasks.mse)
    assert not model.training
    with train.evaluation_mode(model.train()) as m:
        assert not m.training and not torch.is_grad_enabled()
    assert model.training


# --- metrics, and truncated BPTT over streams ---------------------------------------------------


def test_metrics_are_recorded_at_every_validation_in_eval_mode():
    val = tasks.adding_problem(4, 64, np.random.default_rng(5))
    seen = []

    def spy(model):
        seen.append((not model.training, torch.is_grad_enabled()))
        return 7.0

    metrics = {"loss again": lambda m: train.evaluate(m, val, tasks.mse), "spy": spy}
    _, hist = _fit(25, val, eval_every=10, metrics=metrics)
    assert hist.val_step == [10, 20, 25] and hist.metrics["spy"] == [7.0] * 3
    assert hist.metrics["loss again"] == hist.val_loss  # scored on the same weights
    assert seen == [(True, False)] * 3
    assert hist.train_loss == [np.mean(hist.loss[:10]), np.mean(hist.loss[10:20]),
                               np.mean(hist.loss[20:])]  # fmt: skip
    # without validation: the metrics alone, at the same steps; they never stop the run
    _, alone = _fit(25, None, eval_every=10, metrics={"spy": spy})
    assert alone.val_step == [10, 20, 25] and alone.val_loss == [] and alone.best_step is None
    assert alone.metrics == {"spy": [7.0] * 3} and alone.loss == hist.loss


def _chunked_by_hand(carry, seed, passes=2, length=60, k=10):
    """Chapter 7's hand-written loop: a GRU on long streams, one Adam update per chunk."""
    torch.manual_seed(seed)
    net = SequenceModel(1, 8, 1, cell="gru", readout="all")
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    data = np.random.default_rng(seed)

    def step(x_w, y_w, h):
        h_seq, h = net.encoder(x_w, h if carry else None)
        loss = tasks.mse(net.readout(h_seq), y_w)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss, h

    losses = []
    for _ in range(passes):
        x, y = tasks.noisy_sine(length, 4, data, noise=0.3)
        losses += tbptt.run_windows(step, torch.from_numpy(x), torch.from_numpy(y), k, None)[0]
    return net, losses


def _chunked_by_train(carry, seed, passes=2, length=60, k=10):
    torch.manual_seed(seed)
    net = SequenceModel(1, 8, 1, cell="gru", readout="all")
    data = np.random.default_rng(seed)

    def forward(x_w, h):
        h_seq, h = net.encoder(x_w, h)
        return net.readout(h_seq), h

    hist = train.train(
        net,
        lambda: tasks.noisy_sine(length, 4, data, noise=0.3),
        tasks.mse,
        passes * length // k,
        lr=0.01,
        window=k,
        carry_state=carry,
        forward=forward,
        progress=False,
    )
    return net, hist.loss


@pytest.mark.parametrize("carry", [True, False])
def test_carrying_state_over_chunks_equals_the_hand_written_loop_bitwise(carry):
    net, losses = _chunked_by_hand(carry, 0)
    twin, twin_losses = _chunked_by_train(carry, 0)
    assert losses == twin_losses
    for p, q in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p, q)
    if carry:  # and the carried state made a difference
        other, _ = _chunked_by_train(False, 0)
        assert not torch.equal(next(other.parameters()), next(net.parameters()))


def test_the_state_is_carried_detached_and_restarted_with_new_streams():
    states = []

    class Echo(torch.nn.Module):  # out = x * w; the state counts the windows of a stream
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, x, state):
            states.append(state)
            n = torch.zeros(()) if state is None else state
            return x * self.w, n + self.w  # the state depends on w: a graph to cut

    x = np.ones((25, 2, 1), dtype=np.float32)
    train.train(Echo(), lambda: (x, x), tasks.mse, 7, window=10, carry_state=True, progress=False)
    # windows of 10, 10, 5 per stream; a new stream after 3 windows starts from None
    assert [s is None for s in states] == [True, False, False, True, False, False, True]
    assert all(s is None or not s.requires_grad for s in states)


def test_windows_need_targets_as_long_as_the_stream():
    x = np.ones((25, 2, 1), dtype=np.float32)
    with pytest.raises(ValueError, match=r"same length L = 25 on axis 0; got a target of length 5"):
        train.train(SequenceModel(1, 2, 1, readout="all"), lambda: (x, x[:5]), tasks.mse, 2,
                    window=10, progress=False)  # fmt: skip


class _TwoInputs(torch.nn.Module):
    """y = w x + b * lengths: a model called as model(x, lengths)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.b = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, lengths):
        return self.w * x + self.b * lengths.to(x.dtype)


def test_a_tuple_of_inputs_is_spread_over_the_model_call():
    gen = np.random.default_rng(0)

    def batch():
        x, n = gen.normal(size=8), gen.integers(1, 5, size=8)
        return (x, n), 2.0 * x + 0.5 * n

    torch.manual_seed(0)
    model = _TwoInputs()
    h = train.train(model, batch, tasks.mse, steps=400, lr=0.05, progress=False, validation=batch())
    assert abs(model.w.item() - 2.0) < 0.05 and abs(model.b.item() - 0.5) < 0.05
    assert h.val_loss[-1] < 1e-3 * h.loss[0]


def test_window_refuses_a_tuple_of_inputs():
    def batch():
        return (np.zeros((4, 1, 1)), np.ones(1)), np.zeros((4, 1, 1))

    with pytest.raises(TypeError, match="not a tuple of inputs"):
        train.train(_TwoInputs(), batch, tasks.mse, steps=1, progress=False, window=2)
