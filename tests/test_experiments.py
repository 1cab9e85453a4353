"""The experiment runner: same data, seeds and budget for every model; a tidy table."""

import numpy as np
import pytest
import torch

from companion import tasks, train
from companion.experiments import Results, _format, _TestScores, compare
from companion.models import SequenceModel
from companion.tasks import Task, accuracy

TASK = Task.temporal_order(10, batch_size=4, test_size=16)
COLUMNS = ["model", "seed", "steps", "train loss", "test loss", "params", "seconds", "skipped"]


class Recorder(torch.nn.Module):
    """Wraps a model and records every input batch it is trained on."""

    def __init__(self, model, seen):
        super().__init__()
        self.model, self.seen = model, seen

    def forward(self, x):
        if torch.is_grad_enabled():
            self.seen.append(x.detach().clone())
        return self.model(x)


def test_every_model_sees_the_same_batches_and_each_seed_its_own():
    seen = {"gru": [], "lstm": []}
    models = {
        cell: (lambda cell=cell: Recorder(SequenceModel.for_task(TASK, cell, 4), seen[cell]))
        for cell in seen
    }
    results = compare(models, TASK, steps=3, seeds=[0, 1], progress=False)
    assert [(r["model"], r["seed"]) for r in results.rows] == [
        ("gru", 0),
        ("gru", 1),
        ("lstm", 0),
        ("lstm", 1),
    ]
    assert len(seen["gru"]) == len(seen["lstm"]) == 6  # 3 steps x 2 seeds
    for a, b in zip(seen["gru"], seen["lstm"], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    first = tasks.temporal_order(10, 4, np.random.default_rng(1))[0]
    torch.testing.assert_close(seen["gru"][3], torch.from_numpy(first), rtol=0, atol=0)
    assert not torch.equal(seen["gru"][0], seen["gru"][3])


def test_runs_are_reproducible_and_start_from_the_seeded_draw():
    models = {
        "a": lambda: SequenceModel.for_task(TASK, "gru", 4),
        "b": lambda: SequenceModel(8, 4, 4, "gru"),
    }
    results = compare(models, TASK, steps=5, lr=0.01, seeds=[3], progress=False)
    drop = lambda row: {k: v for k, v in row.items() if k not in ("model", "seconds")}  # noqa: E731
    assert drop(results.rows[0]) == drop(results.rows[1])
    again = compare({"a": models["a"]}, TASK, steps=5, lr=0.01, seeds=[3], progress=False)
    assert drop(again.rows[0]) == drop(results.rows[0])
    torch.manual_seed(3)
    fresh = SequenceModel(8, 4, 4, "gru")
    trained = results.models["a", 3]
    assert not torch.equal(fresh.encoder.weight_hh_l0, trained.encoder.weight_hh_l0)
    assert len(results.histories["a", 3].loss) == 5


def test_curves_score_the_test_batch_during_training():
    models = {"gru": lambda: SequenceModel.for_task(TASK, "gru", 4)}
    plain = compare(models, TASK, steps=6, lr=0.01, progress=False)
    tracked = compare(models, TASK, steps=6, lr=0.01, eval_every=2, progress=False)
    assert plain.curves == {}
    curve = tracked.curves["gru", 0]
    assert [step for step, _ in curve] == [2, 4, 6]
    assert sorted(curve[0][1]) == ["accuracy", "test loss"]
    assert curve[-1][1]["test loss"] == tracked.rows[0]["test loss"]
    drop = lambda row: {k: v for k, v in row.items() if k != "seconds"}  # noqa: E731
    assert drop(plain.rows[0]) == drop(tracked.rows[0])  # scoring does not change training
    with pytest.raises(ValueError, match="eval_every must be a positive integer; got 0"):
        compare(models, TASK, steps=2, eval_every=0)


def test_scores_come_from_the_validation_of_train():
    """The test batch is train()'s validation set: the history holds every score, the row the
    last one, which is the score of the model handed back (its last weights, not the best)."""
    task = Task.temporal_order(10, batch_size=4, test_size=32)
    results = compare(
        {"lstm": lambda: SequenceModel.for_task(task, "lstm", 4)},
        task,
        steps=7,
        lr=0.05,
        eval_every=3,
        progress=False,
    )
    history, row = results.histories["lstm", 0], results.rows[0]
    assert history.val_step == [3, 6, 7] and len(history.metrics["accuracy"]) == 3
    assert [s for _, s in results.curves["lstm", 0]] == [
        {"test loss": v, "accuracy": a}
        for v, a in zip(history.val_loss, history.metrics["accuracy"], strict=True)
    ]
    test = tasks.temporal_order(10, 32, np.random.default_rng(10_000))
    model = results.models["lstm", 0]
    assert row["test loss"] == history.val_loss[-1] == train.evaluate(model, test, task.loss)
    assert row["seconds"] <= history.seconds


def test_stop_when_ends_a_run_on_its_latest_test_scores():
    task = Task.temporal_order(10, batch_size=4, test_size=32)
    models = {
        "a": lambda: SequenceModel.for_task(task, "gru", 4),
        "b": lambda: SequenceModel.for_task(task, "gru", 4),
    }
    full = compare(models, task, steps=12, lr=0.05, eval_every=3, progress=False)
    curve = full.curves["a", 0]
    limit = curve[1][1]["test loss"]  # the test loss after 6 steps...
    assert curve[0][1]["test loss"] > limit  # ...the first one this low
    seen = []

    def stop_when(scores):
        seen.append(dict(scores))
        return scores["test loss"] <= limit

    cut = compare(models, task, steps=12, lr=0.05, eval_every=3, progress=False,
                  stop_when=stop_when)  # fmt: skip
    assert [row["steps"] for row in cut.rows] == [6, 6]
    assert len(cut.histories["a", 0].loss) == 6
    assert cut.curves["a", 0] == curve[:2]  # the same run, cut short
    assert seen[:2] == [s for _, s in curve[:2]] and sorted(seen[0]) == ["accuracy", "test loss"]
    assert cut.rows[0]["test loss"] == limit
    # the table shows the steps only when the runs differ in length
    assert "steps" not in full.table(time=False) and "steps" not in cut.table(time=False)
    cut.rows[1] = full.rows[1]
    lines = cut.table(time=False).splitlines()
    assert lines[0].split()[:3] == ["model", "seed", "steps"]
    assert [line.split()[:3] for line in lines[2:]] == [["a", "0", "6"], ["b", "0", "12"]]
    assert cut.table(by="model").splitlines()[3].split()[:3] == ["b", "1", "12"]
    # not asked after the last step: a run that never stops asks at 3 of its 4 validations
    seen.clear()
    compare({"a": models["a"]}, task, 12, eval_every=3, stop_when=seen.append, progress=False)
    assert len(seen) == 3


def test_stop_when_bad_input():
    factory = {"gru": lambda: SequenceModel.for_task(TASK, "gru", 4)}
    with pytest.raises(ValueError, match="stop_when needs eval_every"):
        compare(factory, TASK, 2, stop_when=lambda s: True, progress=False)
    with pytest.raises(TypeError, match="stop_when must be a function; got float"):
        compare(factory, TASK, 2, eval_every=1, stop_when=0.5, progress=False)


def test_one_forward_pass_serves_the_loss_and_the_metrics():
    task = Task.temporal_order(10, test_size=8)
    scores = _TestScores(task, task.sample(np.random.default_rng(0), 8), torch.float32)
    calls = []
    model = SequenceModel.for_task(task, "gru", 3)
    model.register_forward_hook(lambda *args: calls.append(1))
    with pytest.raises(RuntimeError, match="'accuracy' was asked for before the test loss"):
        scores.metrics["accuracy"](model)
    with torch.no_grad():
        loss = scores.loss(model)
    assert 0 <= scores.metrics["accuracy"](model) <= 1 and loss > 0 and len(calls) == 1
    with pytest.raises(RuntimeError, match="before the test loss"):
        scores.metrics["accuracy"](model)  # asked twice for one validation


def test_rows_hold_losses_metrics_parameters_and_time():
    task = Task.temporal_order(10, batch_size=4, test_size=64)
    results = compare(
        {"rnn": lambda: SequenceModel.for_task(task, "rnn", 3)}, task, 4, progress=False
    )
    (row,) = results.rows
    assert list(row) == [*COLUMNS[:5], "accuracy", *COLUMNS[5:]]
    model = results.models["rnn", 0]
    test = tasks.temporal_order(10, 64, np.random.default_rng(10_000))
    assert row["test loss"] == pytest.approx(train.evaluate(model, test, tasks.cross_entropy))
    with torch.no_grad():
        acc = accuracy(model(torch.from_numpy(test[0])), torch.from_numpy(test[1]))
    assert row["accuracy"] == pytest.approx(acc)
    assert row["params"] == 3 * (8 + 3 + 2) + 4 * (3 + 1)
    assert row["train loss"] == pytest.approx(np.mean(results.histories["rnn", 0].loss))
    assert row["seconds"] > 0 and row["skipped"] == 0 and row["steps"] == 4


@pytest.mark.parametrize(
    "task, metric",
    [
        (Task.adding(6, batch_size=4, test_size=8), None),
        (Task.copy(2, 3, 2, 4, 8), "recall accuracy"),
    ],
)
def test_the_other_tasks(task, metric):
    models = {"lstm": lambda: SequenceModel.for_task(task, "lstm", 4, memory_bias=1.0)}
    row = compare(models, task, steps=3, progress=False).rows[0]
    assert [k for k in row if k not in COLUMNS] == ([metric] if metric else [])
    assert np.isfinite(row["test loss"]) and task.baseline > 0


def test_table_aligns_rounds_and_can_leave_out_time():
    results = Results("toy")
    for model, seed, loss, acc in [("GRU", 0, 0.123456, 0.25), ("GRU", 1, 0.2, 0.75)]:
        row = {"model": model, "seed": seed, "train loss": loss, "test loss": loss / 1000}
        row.update({"accuracy": acc, "params": 12345, "seconds": 1.234, "skipped": 0})
        results.rows.append(row)
    results.rows.append({**results.rows[0], "model": "LSTM, forget bias 3", "skipped": 2})
    lines = results.table().splitlines()
    assert lines[0].split() == [
        "model",
        "seed",
        "train",
        "loss",
        "test",
        "loss",
        "accuracy",
        "params",
        "seconds",
        "skipped",
    ]
    assert set(lines[1]) == {"-", " "} and len({len(line) for line in lines[:2]}) == 1
    assert lines[2].split() == ["GRU", "0", "0.123", "0.000123", "0.250", "12,345", "1.2", "0"]
    assert "seconds" not in results.table(time=False)
    by_model = results.table(time=False, by="model").splitlines()
    assert by_model[0].split()[:2] == ["model", "seeds"]
    assert by_model[2].split() == ["GRU", "2", "0.162", "0.000162", "0.500", "12,345", "0"]
    assert results.get("GRU", "accuracy") == 0.5
    assert str(results) == results.table()
    with pytest.raises(KeyError, match=r"no runs of model 'RNN'; the models are \['GRU', 'LSTM"):
        results.get("RNN", "accuracy")
    with pytest.raises(ValueError, match=r"by must be one of \('run', 'model'\); got 'seed'"):
        results.table(by="seed")


def test_skipped_column_only_when_a_step_was_skipped():
    results = Results("toy", rows=[{"model": "a", "seed": 0, "test loss": 1.0, "skipped": 0}])
    assert "skipped" not in results.table()
    assert Results("toy").table() == "toy: no runs"


@pytest.mark.parametrize(
    "value, text",
    [
        (0.123456, "0.123"),
        (1.0, "1.00"),
        (12.345, "12.3"),
        (1234.5, "1234"),
        (2e-5, "2.00e-05"),
        (1.5e-4, "0.000150"),
        (123456.0, "1.23e+05"),
        (0.0, "0"),
        (float("nan"), "nan"),
        (7, "7"),
        (1234567, "1,234,567"),
    ],
)
def test_format(value, text):
    assert _format("x", value, 3) == text


def test_format_rounds_seconds_to_a_tenth():
    assert _format("seconds", 12.345, 3) == "12.3"


def test_bad_input():
    factory = {"gru": lambda: SequenceModel.for_task(TASK, "gru", 4)}
    with pytest.raises(TypeError, match="task must be a companion.tasks.Task; got function"):
        compare(factory, lambda rng: None, 2)
    with pytest.raises(ValueError, match="models must be a non-empty dict"):
        compare({}, TASK, 2)
    with pytest.raises(TypeError, match=r"models\['gru'\] must be a factory .*got SequenceModel"):
        compare({"gru": SequenceModel(8, 4, 4)}, TASK, 2)
    with pytest.raises(TypeError, match=r"models\['gru'\] must be a factory .*got int"):
        compare({"gru": 3}, TASK, 2)
    with pytest.raises(TypeError, match=r"models\['x'\]\(\) must return a torch.nn.Module"):
        compare({"x": lambda: None}, TASK, 2, progress=False)
    with pytest.raises(ValueError, match="seeds must be a non-empty list"):
        compare(factory, TASK, 2, seeds=[])
    with pytest.raises(ValueError, match="seed must be"):
        compare(factory, TASK, 2, seeds=[-1])
    with pytest.raises(TypeError, match="seed must be an integer"):
        compare(factory, TASK, 2, seeds=[True])
    with pytest.raises(ValueError, match="seeds must be a non-empty list"):
        compare(factory, TASK, 2, seeds=0)
    assert len(compare(factory, TASK, 1, seeds=np.arange(2), progress=False).rows) == 2
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        compare(factory, TASK, 0, progress=False)
    with pytest.raises(TypeError, match="steps must be an integer"):
        compare(factory, TASK, 2.0, progress=False)
