"""a^n b^n: the strings and masks, the evaluator on an exact counter and on broken ones, the
task with a model, and the counting experiment's plumbing."""

import numpy as np
import pytest
import torch

from companion import counting, tasks
from companion.models import SequenceModel
from companion.tasks import ANBN_SYMBOLS, Task


def _strings(x, y, valid, b):
    """The input and target strings of column b."""
    n = int(valid[:, b].sum())
    read = "".join("ab"[i] for i in x[:n, b].argmax(-1))
    return read, "".join(ANBN_SYMBOLS[i] for i in y[:n, b])


def test_anbn_sequences_spell_the_strings_and_mark_the_deterministic_steps():
    ns = [1, 3, 2]
    x, y, valid, det = tasks.anbn_sequences(ns)
    assert x.shape == (6, 3, 2) and y.shape == valid.shape == det.shape == (6, 3)
    assert x.dtype == np.float32 and y.dtype == np.int64 and det.dtype == bool
    for b, n in enumerate(ns):
        read, target = _strings(x, y, valid, b)
        assert read == "a" * n + "b" * n  # reads a^n b^n
        assert target == "a" * (n - 1) + "b" * n + "$"  # predicts each next symbol
        # deterministic: the targets after the first b has been read: b^(n-1) $
        assert det[:, b].tolist() == [False] * n + [True] * n + [False] * (6 - 2 * n)
    np.testing.assert_array_equal(x.sum(-1), valid)  # one-hot on real steps, zero padding
    assert (y[~valid] == 0).all()


def test_anbn_draws_n_in_the_range_and_is_seeded():
    x, y, valid, det = tasks.anbn(500, np.random.default_rng(0), n_max=7, n_min=3)
    n = valid.sum(0) // 2
    assert n.min() == 3 and n.max() == 7 and x.shape[0] == 14
    again = tasks.anbn(500, np.random.default_rng(0), n_max=7, n_min=3)
    np.testing.assert_array_equal(again[0], x)
    with pytest.raises(ValueError, match="n_max"):
        tasks.anbn(4, np.random.default_rng(0), n_max=2, n_min=3)
    with pytest.raises(TypeError, match="rng"):
        tasks.anbn(4, 0)
    with pytest.raises(ValueError, match="n must be a positive"):
        tasks.anbn_sequences([2, 0])
    with pytest.raises(TypeError, match="n must be an integer"):
        tasks.anbn_sequences([2.0])
    with pytest.raises(ValueError, match="at least one"):
        tasks.anbn_sequences([])


def _counter(limit=None):
    """An exact counter: logits (T, B, 3) from the count of a's minus b's read so far, the
    count saturating at ``limit`` (None: never), as a GRU's bounded state would."""

    def model(x):
        n_a, n_b = torch.cumsum(x[..., 0], 0), torch.cumsum(x[..., 1], 0)  # (T, B)
        count = (n_a if limit is None else n_a.clamp(max=limit)) - n_b
        in_b = n_b > 0
        logits = torch.zeros(*x.shape[:2], 3)
        logits[..., 0] = torch.where(in_b, -10.0, 1.0)  # before the b's: a or b, a favoured
        logits[..., 1] = torch.where(in_b & (count > 0), 1.0, 0.0)
        logits[..., 2] = torch.where(in_b & (count <= 0), 1.0, -10.0)
        return logits

    return model


def test_evaluator_on_an_exact_counter_and_on_broken_ones():
    largest, correct = tasks.anbn_generalisation(_counter(), n_max=120)
    assert largest == 120 and correct.shape == (120,) and correct.all()
    largest, correct = tasks.anbn_generalisation(_counter(limit=30), n_max=120)
    assert largest == 30 and correct[:30].all() and not correct[30:].any()

    def wrong_at_7(x):  # right for every n but 7: it ends n = 7 one b early
        logits = _counter()(x)
        n = x[..., 0].sum(0)  # (B,)
        logits[12, n == 7] = torch.tensor([0.0, 0.0, 5.0])
        return logits

    largest, correct = tasks.anbn_generalisation(wrong_at_7, n_max=20)
    assert largest == 6 and correct.sum() == 19 and not correct[6]
    always_b = lambda x: torch.tensor([0.0, 1.0, 0.0]).expand(*x.shape[:2], 3)  # noqa: E731
    largest, correct = tasks.anbn_generalisation(always_b, n_max=10)
    assert largest == 0 and not correct.any()  # never predicts the end symbol


def test_metric_and_loss_on_a_batch():
    x, y, valid, det = tasks.anbn_sequences([2, 5, 9])
    logits = _counter(limit=4)(torch.as_tensor(x))
    yt, vt, dt = (torch.as_tensor(a) for a in (y, valid, det))
    assert tasks.anbn_correct(logits, yt, dt).tolist() == [True, False, False]
    assert tasks.anbn_accuracy(logits, yt, vt, dt) == pytest.approx(1 / 3)
    perfect = torch.where(torch.nn.functional.one_hot(yt, 3).bool(), 50.0, -50.0)
    assert float(tasks.anbn_loss(perfect, yt, vt, dt)) == pytest.approx(0.0, abs=1e-12)
    uniform = torch.zeros(*y.shape, 3)
    assert float(tasks.anbn_loss(uniform, yt, vt, dt)) == pytest.approx(np.log(3))


def test_task_trains_a_model_and_the_evaluator_reads_it():
    task = Task.anbn(n_max=6)
    assert (task.input_size, task.output_size, task.readout) == (2, 3, "all")
    x, *targets = task.sample(np.random.default_rng(0), 4)
    torch.manual_seed(0)
    model = SequenceModel.for_task(task, "lstm", 4)
    out = model(torch.as_tensor(x))
    assert out.shape == (x.shape[0], 4, 3)
    loss = task.loss(out, *(torch.as_tensor(t) for t in targets))
    assert loss.shape == () and 0.5 < float(loss.detach()) < 2.0
    model.train()
    largest, correct = tasks.anbn_generalisation(model, n_max=8)
    assert correct.shape == (8,) and 0 <= largest <= 8 and model.training  # mode restored
    with pytest.raises(ValueError, match="n_max"):
        Task.anbn(n_max=2, n_min=3)


def test_counting_experiment_runs_and_summarises():
    runs = counting.counting_experiment(cells=("lstm", "gru"), seeds=(0,), hidden_size=3,
                                        n_train=4, n_test=6, steps=3)  # fmt: skip
    assert [(r.cell, r.seed) for r in runs] == [("lstm", 0), ("gru", 0)]
    for r in runs:
        assert r.correct.shape == (6,) and 0 <= r.largest <= 6 and np.isfinite(r.loss)
        assert r.parameters == sum(p.numel() for p in r.model.parameters())
    assert runs[0].parameters == 4 * 3 * (2 + 3 + 2) + 3 * 3 + 3  # LSTM (G = 4) + readout
    lines = counting.summary(runs, n_train=4).splitlines()
    assert lines[1].split() == ["lstm", str(runs[0].parameters), str(runs[0].largest)]
    assert lines[-1] == "(trained on n <= 4)"
    with pytest.raises(ValueError, match="n_test"):
        counting.counting_experiment(n_train=10, n_test=5)
    with pytest.raises(ValueError, match="cell"):
        counting.counting_experiment(cells=("transformer",))


def test_states_read_step_by_step_match_the_whole_sequence():
    torch.manual_seed(0)
    task = Task.anbn(n_max=5)
    for cell in ("lstm", "gru"):
        model = SequenceModel.for_task(task, cell, 4)
        h, c, count = counting.states(model, 5)
        assert h.shape == (10, 4) and count.tolist() == [1, 2, 3, 4, 5, 4, 3, 2, 1, 0]
        x = torch.as_tensor(tasks.anbn_sequences([5])[0])
        with torch.no_grad():
            h_seq, state = model.encoder(x)
        np.testing.assert_allclose(h, h_seq[:, 0].numpy(), rtol=1e-5, atol=1e-6)
        if cell == "lstm":
            np.testing.assert_allclose(c[-1], state[1][0, 0].numpy(), rtol=1e-5, atol=1e-6)
        else:
            assert c is None
    with pytest.raises(TypeError, match="SequenceModel"):
        counting.states(torch.nn.Linear(2, 3), 4)
