"""Fair comparisons of sequence models: the same data, budget, optimizer and seeds for each.

``compare(models, task, steps, ...)`` trains every model on every seed and returns a table::

    for name, factory in models:                 a factory builds a fresh model
        for seed in seeds:
            torch.manual_seed(seed); model = factory()    the same torch draw for every model
            data = numpy.random.default_rng(seed)         the same batches for every model
            train(model, task.sample(data, B), task.loss, steps, Adam(lr), clip)
            evaluate on one test batch, drawn once from test_seed, the same for all runs

A ``Task`` bundles the batch generator, the loss, the metrics and the sizes a model needs;
``Task.adding``, ``Task.temporal_order`` and ``Task.copy`` wrap ``companion.tasks``.
``sequence_model`` builds a ``SequenceModel`` for a task, and ``set_memory_bias_`` sets the
bias of the gate that keeps the old state: the LSTM's forget gate f, or the GRU's update gate
z in torch's convention h = (1 - z) n + z h_prev (the same rows H:2H in both).

Training runs ``companion.train.train`` (Adam); the torch thread count is whatever
``companion.setup`` fixed. Wall times vary from run to run and machine to machine, so
``Results.table(time=False)`` prints the table without them. No pandas: rows are dicts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from companion import tasks
from companion import train as _train
from companion.models import SequenceModel, count_parameters
from companion.train import History, evaluation_mode, tqdm


@dataclass(frozen=True)
class Task:
    """What ``compare`` needs to know about a task.

    ``sample(rng, B) -> (x, *targets)`` draws a batch (numpy, x time-major (T, B, D));
    ``loss(out, *targets)`` is the training loss; each ``metrics[name](out, *targets)`` is a
    float reported on the test batch. ``input_size``, ``output_size`` and ``readout`` are the
    D, Q and readout of a ``SequenceModel`` for the task; ``baseline`` is the loss of the best
    answer that ignores the long-range dependency (see ``companion.tasks``).
    """

    name: str
    sample: Callable[[np.random.Generator, int], tuple]
    loss: Callable[..., torch.Tensor]
    input_size: int
    output_size: int
    readout: str = "last"
    metrics: Mapping[str, Callable[..., float]] = field(default_factory=dict)
    baseline: float | None = None
    batch_size: int = 32
    test_size: int = 1000

    @classmethod
    def adding(cls, T: int, batch_size: int = 32, test_size: int = 1000) -> Task:
        """The adding problem at length T: MSE, baseline 1/6 (``tasks.adding_problem``)."""
        return cls(
            f"adding problem, T={T}",
            lambda rng, B: tasks.adding_problem(T, B, rng),
            _train.mse,
            input_size=2,
            output_size=1,
            baseline=tasks.adding_baseline_mse(),
            batch_size=batch_size,
            test_size=test_size,
        )

    @classmethod
    def temporal_order(cls, T: int, batch_size: int = 32, test_size: int = 1000) -> Task:
        """The temporal order problem at length T: cross-entropy and accuracy (chance 1/4)."""
        return cls(
            f"temporal order, T={T}",
            lambda rng, B: tasks.temporal_order(T, B, rng),
            _train.cross_entropy,
            input_size=len(tasks.TEMPORAL_SYMBOLS),
            output_size=4,
            metrics={"accuracy": accuracy},
            baseline=tasks.temporal_order_baseline(),
            batch_size=batch_size,
            test_size=test_size,
        )

    @classmethod
    def copy(
        cls,
        delay: int,
        n_symbols: int = 8,
        n_copy: int = 10,
        batch_size: int = 32,
        test_size: int = 500,
    ) -> Task:
        """The copy task, scored on the recall steps only: cross-entropy, recall accuracy
        (chance 1 / n_symbols); baseline log n_symbols (``tasks.copy_baseline``)."""
        return cls(
            f"copy, delay {delay}, {n_symbols} symbols",
            lambda rng, B: tasks.copy_task(delay, B, rng, n_symbols, n_copy),
            _train.masked_cross_entropy,
            input_size=n_symbols + 2,
            output_size=n_symbols + 2,
            readout="all",
            metrics={"recall accuracy": recall_accuracy},
            baseline=tasks.copy_baseline(delay, n_symbols, n_copy, loss="recall"),
            batch_size=batch_size,
            test_size=test_size,
        )


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of ``logits`` (B, Q) whose argmax is the class ``y`` (B,)."""
    return float((logits.argmax(-1) == y).double().mean())


def recall_accuracy(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> float:
    """Fraction of the masked steps where argmax ``logits`` (T, B, Q) is ``y`` (T, B)."""
    return float((logits.argmax(-1) == y)[mask].double().mean())


def set_memory_bias_(module: nn.Module, value: float) -> nn.Module:
    """Set the bias of the gate that keeps the old state to ``value``, in place; return module.

    That gate is the LSTM's forget gate f (c = f c_prev + i g) and the GRU's update gate z in
    torch's convention (h = (1 - z) n + z h_prev); both are rows H:2H of the stacked biases.
    ``b_ih`` gets ``value`` there and ``b_hh`` 0, so the sum, the bias of the equations, is
    ``value``. Accepts a ``SequenceModel`` (its encoder), ``torch.nn.LSTM``/``GRU`` or the
    ``companion.nn`` modules; a plain RNN has no such gate and raises ValueError.
    """
    enc = module.encoder if isinstance(module, SequenceModel) else module
    names = [n for n in ("bias_ih_l0", "bias_ih") if hasattr(enc, n)]
    if not names:
        raise TypeError(f"module must be a one-layer LSTM or GRU; got {type(enc).__name__}")
    b_ih, b_hh = getattr(enc, names[0]), getattr(enc, names[0].replace("_ih", "_hh"))
    H = enc.hidden_size
    if b_ih.shape[0] // H not in (3, 4):
        raise ValueError(
            f"a memory bias needs an LSTM (4 blocks) or a GRU (3 blocks); got "
            f"{b_ih.shape[0] // H} block(s) in {type(enc).__name__}"
        )
    with torch.no_grad():
        b_ih[H : 2 * H] = value
        b_hh[H : 2 * H] = 0.0
    return module


def sequence_model(
    task: Task, cell: str, hidden_size: int, memory_bias: float | None = None
) -> SequenceModel:
    """A ``SequenceModel`` sized for ``task``; ``memory_bias`` as in ``set_memory_bias_``."""
    model = SequenceModel(
        task.input_size, hidden_size, task.output_size, cell=cell, readout=task.readout
    )
    return model if memory_bias is None else set_memory_bias_(model, memory_bias)


def _format(key: str, v: object, digits: int) -> str:
    """Round for print: ints with separators, seconds to 0.1, other floats to ``digits``
    significant digits in fixed notation (scientific outside 1e-4..1e4)."""
    if isinstance(v, bool | str) or v is None:
        return str(v)
    if isinstance(v, int | np.integer):
        return f"{v:,}"
    v = float(v)
    if key == "seconds":
        return f"{v:.1f}"
    if not math.isfinite(v) or v == 0:
        return f"{v:g}"
    exponent = math.floor(math.log10(abs(v)))
    if -4 <= exponent < 4:
        return f"{v:.{max(digits - 1 - exponent, 0)}f}"
    return f"{v:.{digits - 1}e}"


@dataclass
class Results:
    """What ``compare`` returns: one row per (model, seed) run, in the order they ran.

    Each row is a dict with ``model``, ``seed``, ``train loss`` (mean over the last 100
    steps), ``test loss``, one entry per task metric, ``params`` (trainable scalars),
    ``seconds`` (wall time of training) and ``skipped`` (non-finite steps not applied).
    ``histories`` and ``models`` hold each run's ``History`` and trained model, and ``curves``
    (with ``compare(..., eval_every=k)``) its test loss and metrics after every k steps, as a
    list of (step, dict); all keyed by (model name, seed).
    """

    task: str
    rows: list[dict] = field(default_factory=list)
    histories: dict[tuple[str, int], History] = field(default_factory=dict)
    models: dict[tuple[str, int], nn.Module] = field(default_factory=dict)
    curves: dict[tuple[str, int], list[tuple[int, dict]]] = field(default_factory=dict)

    def get(self, model: str, key: str) -> float:
        """Mean of column ``key`` over the seeds of ``model``."""
        values = [row[key] for row in self.rows if row["model"] == model]
        if not values:
            names = sorted({row["model"] for row in self.rows})
            raise KeyError(f"no runs of model {model!r}; the models are {names}")
        return float(np.mean(values))

    def table(self, time: bool = True, by: str = "run", digits: int = 3) -> str:
        """An aligned text table, numbers rounded to ``digits`` significant digits.

        Args:
            time: include the ``seconds`` column; False for output that must not change
                from run to run (wall times do).
            by: 'run' (one line per model and seed) or 'model' (one line per model, each
                number the mean over its seeds, and the number of seeds).
            digits: significant digits of the losses and metrics.
        """
        if by not in ("run", "model"):
            raise ValueError(f"by must be 'run' or 'model'; got {by!r}")
        if not self.rows:
            return f"{self.task}: no runs"
        rows = self.rows
        if by == "model":
            names = list(dict.fromkeys(row["model"] for row in rows))
            rows = []
            for name in names:
                runs = [row for row in self.rows if row["model"] == name]
                mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0] if k != "model"}
                rows.append({**mean, "model": name, "seed": len(runs), "params": runs[0]["params"]})
        keys = [k for k in self.rows[0] if k != "skipped" or any(r["skipped"] for r in rows)]
        keys = [k for k in keys if time or k != "seconds"]
        header = {k: ("seeds" if by == "model" and k == "seed" else k) for k in keys}
        cells = [[_format(k, row[k], digits) for k in keys] for row in rows]
        widths = [max(len(header[k]), *(len(c[j]) for c in cells)) for j, k in enumerate(keys)]
        lines = []
        for line in [[header[k] for k in keys], *cells]:
            lines.append(
                "  ".join(
                    c.ljust(w) if j == 0 else c.rjust(w)
                    for j, (c, w) in enumerate(zip(line, widths, strict=True))
                ).rstrip()
            )
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _evaluate(model: nn.Module, task: Task, batch: tuple) -> dict[str, float]:
    """Test loss and metrics of ``model`` on ``batch`` (numpy or torch), in eval mode and
    without gradients."""
    dtype = next(model.parameters()).dtype
    x, *targets = (
        t.to(dtype) if t.is_floating_point() else t
        for t in (a if isinstance(a, torch.Tensor) else torch.as_tensor(a) for a in batch)
    )
    with evaluation_mode(model):
        out = model(x)
    scores = {"test loss": float(task.loss(out, *targets))}
    scores.update({k: float(m(out, *targets)) for k, m in task.metrics.items()})
    return scores


def compare(
    models: Mapping[str, Callable[[], nn.Module]],
    task: Task,
    steps: int,
    lr: float = 1e-3,
    clip: str | None = "norm",
    clip_at: float = 1.0,
    seeds: Sequence[int] = (0,),
    test_seed: int = 10_000,
    eval_every: int | None = None,
    progress: bool = True,
) -> Results:
    """Train every model on every seed under the same conditions; return the ``Results``.

    Args:
        models: name -> factory; ``factory()`` returns a fresh ``torch.nn.Module`` mapping
            x (T, B, D) to the task's output (e.g. ``lambda: sequence_model(task, "gru", 64)``).
            It is called right after ``torch.manual_seed(seed)``.
        task: a ``Task``, e.g. ``Task.temporal_order(100)``.
        steps, lr, clip, clip_at: as for ``companion.train.train`` (Adam); the same for all.
        seeds: one run per seed and model. Seed s fixes both the initial weights
            (``torch.manual_seed(s)``) and the batches (``numpy.random.default_rng(s)``), so
            every model sees the same stream of training data.
        test_seed: seeds the one test batch of ``task.test_size`` examples, shared by all runs.
        eval_every: if set, also score the test batch after every ``eval_every`` steps, into
            ``Results.curves``; the time this takes is left out of ``seconds``.
        progress: a tqdm bar over the runs.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be a companion.experiments.Task; got {type(task).__name__}")
    if not isinstance(models, Mapping) or not models:
        raise ValueError(f"models must be a non-empty dict of name -> factory; got {models!r}")
    for name, factory in models.items():
        if isinstance(factory, nn.Module) or not callable(factory):
            raise TypeError(
                f"models[{name!r}] must be a factory returning a fresh torch.nn.Module "
                f"(e.g. lambda: SequenceModel(...)), so that each run starts anew; "
                f"got {type(factory).__name__}"
            )
    if eval_every is not None and (not isinstance(eval_every, int) or eval_every < 1):
        raise ValueError(f"eval_every must be None or a positive integer; got {eval_every!r}")
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int | np.integer) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers; got {seeds}")
    test_batch = task.sample(np.random.default_rng(test_seed), task.test_size)
    results = Results(task.name)
    runs = [(name, int(seed)) for name in models for seed in seeds]
    bar = tqdm(runs, desc=task.name, disable=not progress)
    for name, seed in bar:
        bar.set_postfix_str(f"{name}, seed {seed}")
        torch.manual_seed(seed)
        model = models[name]()
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{name!r}]() must return a torch.nn.Module; got {model!r}")
        data = np.random.default_rng(seed)
        curve, done, eval_seconds = [], 0, 0.0

        def batch_fn(data=data, model=model, curve=curve):
            # called before each step, so after `done` updates: score the model there
            nonlocal done, eval_seconds
            if eval_every and done and done % eval_every == 0:
                tick = time.perf_counter()
                curve.append((done, _evaluate(model, task, test_batch)))
                eval_seconds += time.perf_counter() - tick
            done += 1
            return task.sample(data, task.batch_size)

        start = time.perf_counter()
        history = _train.train(
            model,
            batch_fn,
            task.loss,
            steps,
            lr=lr,
            clip=clip,
            clip_at=clip_at,
            progress=False,
        )
        seconds = time.perf_counter() - start - eval_seconds
        row = {"model": name, "seed": seed, "train loss": history.final_loss()}
        row.update(_evaluate(model, task, test_batch))
        row.update(params=count_parameters(model), seconds=seconds, skipped=history.skipped)
        results.rows.append(row)
        results.histories[name, seed] = history
        results.models[name, seed] = model
        if eval_every:
            final = {k: row[k] for k in ("test loss", *task.metrics)}
            results.curves[name, seed] = [*curve, (steps, final)]
    bar.close()
    return results
