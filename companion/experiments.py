"""Fair comparisons of sequence models: the same data, budget, optimizer and seeds for each.

``compare(models, task, steps, ...)`` trains every model on every seed and returns a table::

    test = task.sample(default_rng(test_seed), task.test_size)   one test batch for all runs
    for name, factory in models:                   a factory builds a fresh model
        for seed in seeds:
            torch.manual_seed(seed); model = factory()       the same torch draw for every model
            data = numpy.random.default_rng(seed)            the same batches for every model
            train(model, task.sample(data, B), task.loss, steps, Adam(lr), clip,
                  validation=test, metrics=task.metrics)     scored every eval_every steps,
                                                  stopped early if stop_when(scores) is true
            row: steps run, train loss, test loss, metrics at the end; curve: the scores on the way

The tasks (``companion.tasks.Task``: data, loss, metrics, baseline) and the models
(``companion.models.SequenceModel``) have their own modules; this one holds the comparison
only. Training runs ``companion.train.train`` (Adam), which also scores the test batch, in eval
mode and without gradients, so that scoring never changes a run; the torch thread count is
whatever ``companion.setup`` fixed. Wall times vary from run to run and machine to machine, so
``Results.table(time=False)`` prints the table without them. No pandas: rows are dicts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from companion import checks
from companion import train as _train
from companion.history import History
from companion.models import count_parameters
from companion.tasks import Task
from companion.train import tqdm


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
    stop_when: Callable[[Mapping[str, float]], bool] | None = None,
) -> Results:
    """Train every model on every seed under the same conditions; return the ``Results``.

    Args:
        models: name -> factory; ``factory()`` returns a fresh ``torch.nn.Module`` mapping
            x (T, B, D) to the task's output (e.g. ``lambda: SequenceModel.for_task(task,
            "gru", 64)``). It is called right after ``torch.manual_seed(seed)``.
        task: a ``companion.tasks.Task``, e.g. ``Task.temporal_order(100)``.
        steps, lr, clip, clip_at: as for ``companion.train.train`` (Adam); the same for all.
        seeds: one run per seed and model. Seed s fixes both the initial weights
            (``torch.manual_seed(s)``) and the batches (``numpy.random.default_rng(s)``), so
            every model sees the same stream of training data.
        test_seed: seeds the one test batch of ``task.test_size`` examples, shared by all runs.
        eval_every: if set, also score the test batch after every ``eval_every`` steps, into
            ``Results.curves`` (``train``'s validation); the time this takes is left out of
            ``seconds``.
        progress: a tqdm bar over the runs.
        stop_when: None, or a function ``scores -> bool`` called after each scoring of the
            test batch but the last, with the scores there (a dict: ``"test loss"`` and the
            task's metrics by name); True ends that run, e.g. ``lambda s: s["accuracy"] == 1``
            stops a run once it classifies every test example correctly. The row's ``steps``
            says how many steps each run took. Needs ``eval_every``.

    Raises TypeError for a ``task`` that is not a ``Task``, a model that is not a factory of
    ``torch.nn.Module`` or a ``stop_when`` that is not a function; ValueError for no models, no
    seeds, a negative seed, counts below 1 (``companion.checks``), or ``stop_when`` without
    ``eval_every``.
    """
    seeds = _check(models, task, seeds, stop_when, eval_every)
    tracked = eval_every is not None
    eval_every = checks.positive_int("eval_every", eval_every) if tracked else steps
    test_batch = task.sample(np.random.default_rng(test_seed), task.test_size)
    results = Results(task.name)
    runs = [(name, seed) for name in models for seed in seeds]
    bar = tqdm(runs, desc=task.name, disable=not progress)
    for name, seed in bar:
        bar.set_postfix_str(f"{name}, seed {seed}")
        torch.manual_seed(seed)
        model = models[name]()
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{name!r}]() must return a torch.nn.Module; got {model!r}")
        data = np.random.default_rng(seed)
        test = _TestScores(task, test_batch, next(model.parameters()).dtype)
        history = _train.train(
            model,
            lambda data=data: task.sample(data, task.batch_size),
            task.loss,
            steps,
            lr=lr,
            clip=clip,
            clip_at=clip_at,
            progress=False,
            validation=test.loss,
            eval_every=eval_every,
            restore_best=False,
            metrics=test.metrics,
            stop=None if stop_when is None else lambda h: stop_when(_scores(h, -1)),
        )
        scores = [_scores(history, i) for i in range(len(history.val_step))]
        row = {"model": name, "seed": seed, "steps": len(history.loss)}
        row.update({"train loss": history.final_loss(), **scores[-1]})
        row.update(
            params=count_parameters(model),
            seconds=history.seconds - history.val_seconds,
            skipped=history.skipped,
        )
        results.rows.append(row)
        results.histories[name, seed] = history
        results.models[name, seed] = model
        if tracked:
            results.curves[name, seed] = list(zip(history.val_step, scores, strict=True))
    bar.close()
    return results


def _scores(history: History, i: int) -> dict[str, float]:
    """The test loss and metrics of validation ``i`` of a ``compare`` run."""
    return {"test loss": history.val_loss[i], **{k: v[i] for k, v in history.metrics.items()}}


class _TestScores:
    """The test loss and metrics of one run on the test batch, from one forward pass.

    ``train`` calls ``loss`` (its validation) and then each of ``metrics`` at every
    validation, on the same weights: ``loss`` computes the output and every metric, and each
    metric hands on its value (a metric asked for twice, or before ``loss``, is an error).
    """

    def __init__(self, task: Task, batch: tuple, dtype: torch.dtype) -> None:
        self.task = task
        self.x, *self.targets = (
            t.to(dtype) if t.is_floating_point() else t
            for t in (a if isinstance(a, torch.Tensor) else torch.as_tensor(a) for a in batch)
        )
        self.pending: dict[str, float] = {}
        self.metrics = {k: (lambda model, k=k: self._take(k)) for k in task.metrics}

    def loss(self, model: nn.Module) -> float:
        out = model(self.x)
        self.pending = {k: float(m(out, *self.targets)) for k, m in self.task.metrics.items()}
        return float(self.task.loss(out, *self.targets))

    def _take(self, name: str) -> float:
        if name not in self.pending:
            raise RuntimeError(f"the metric {name!r} was asked for before the test loss")
        return self.pending.pop(name)


@dataclass
class Results:
    """What ``compare`` returns: one row per (model, seed) run, in the order they ran.

    Each row is a dict with ``model``, ``seed``, ``steps`` (updates run: fewer than asked if
    ``stop_when`` ended the run), ``train loss`` (mean over its last 100 steps), ``test loss``,
    one entry per task metric, ``params`` (trainable scalars), ``seconds`` (wall time of
    training) and ``skipped`` (non-finite steps not applied).
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
                from run to run (wall times do). The ``steps`` column is shown only when the
                runs differ in length, the ``skipped`` column only when a step was skipped.
            by: 'run' (one line per model and seed) or 'model' (one line per model, each
                number the mean over its seeds, and the number of seeds).
            digits: significant digits of the losses and metrics.
        """
        checks.one_of("by", by, ("run", "model"))
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
        shown = {
            "skipped": any(r.get("skipped") for r in rows),
            "steps": len({r.get("steps") for r in self.rows}) > 1,
            "seconds": time,
        }
        keys = [k for k in self.rows[0] if shown.get(k, True)]
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
    if key == "steps":  # a mean over seeds
        return f"{round(v):,}"
    if not math.isfinite(v) or v == 0:
        return f"{v:g}"
    exponent = math.floor(math.log10(abs(v)))
    if -4 <= exponent < 4:
        return f"{v:.{max(digits - 1 - exponent, 0)}f}"
    return f"{v:.{digits - 1}e}"


def _check(
    models: object, task: object, seeds: object, stop_when: object, eval_every: object
) -> list[int]:
    """The arguments of ``compare`` that ``train`` does not check; the seeds as a list."""
    if stop_when is not None:
        if not callable(stop_when):
            raise TypeError(f"stop_when must be a function; got {type(stop_when).__name__}")
        if eval_every is None:
            raise ValueError(
                "stop_when needs eval_every: the test scores it is given are computed "
                "every eval_every steps"
            )
    if not isinstance(task, Task):
        raise TypeError(f"task must be a companion.tasks.Task; got {type(task).__name__}")
    if not isinstance(models, Mapping) or not models:
        raise ValueError(f"models must be a non-empty dict of name -> factory; got {models!r}")
    for name, factory in models.items():
        if isinstance(factory, nn.Module) or not callable(factory):
            raise TypeError(
                f"models[{name!r}] must be a factory returning a fresh torch.nn.Module "
                f"(e.g. lambda: SequenceModel(...)), so that each run starts anew; "
                f"got {type(factory).__name__}"
            )
    listed = [] if isinstance(seeds, str | bytes) or not isinstance(seeds, Iterable) else seeds
    listed = [checks.integer("seed", s, 0) for s in listed]
    if not listed:
        raise ValueError(f"seeds must be a non-empty list of non-negative integers; got {seeds}")
    return listed
