"""Can a cell count? a^n b^n trained on short strings, tested on long ones.

Weiss, Goldberg and Yahav (2018), "On the practical computational power of finite precision
RNNs for language recognition" (ACL; arXiv 1805.04908), show that an LSTM can count with one
unit of its cell state, and a GRU cannot: the LSTM's cell state adds and subtracts without
bound, while the GRU's state is a convex mixture of its past and a tanh candidate, so it stays
in (-1, 1) and can tell only as many counts apart as its precision allows::

    LSTM   c_t = f_t * c_{t-1} + i_t * g_t     f ~ 1, i ~ 1, g = +1 on a, -1 on b:
                                               c_t = (#a - #b) read so far, unbounded
    GRU    h_t = (1 - z_t) * n_t + z_t * h_{t-1}    |h_t| < 1 for every t

The task is next-symbol prediction on a^n b^n $ (``companion.tasks.anbn``): once the first b
has been read, every next symbol follows from the count. A model trained on n <= ``n_train``
is scored on every n up to ``n_test`` (``companion.tasks.anbn_generalisation``); the number
that counts is the largest N with every n <= N right. Both cells get the same size, optimizer,
learning rate, batches and number of updates.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from companion import checks, families, tasks
from companion.models import SequenceModel, count_parameters
from companion.train import train


@dataclass(frozen=True)
class CountingRun:
    """One trained model on a^n b^n and how far it counts."""

    cell: str  # the family name, 'lstm' or 'gru'
    seed: int  # torch's seed (initial weights) and the batches' numpy seed
    largest: int  # every n <= largest is right; 0 if n = 1 is not
    correct: np.ndarray  # (n_test,) bool, entry n - 1 for n
    loss: float  # mean training loss (nats per symbol) over the last 50 updates
    parameters: int  # trainable scalars of the model
    seconds: float  # training and testing time
    model: SequenceModel  # the trained model, to look inside


def counting_experiment(
    cells: Sequence[str] = ("lstm", "gru"),
    seeds: Sequence[int] = (0, 1, 2),
    hidden_size: int = 10,
    n_train: int = 30,
    n_test: int = 200,
    steps: int = 500,
    lr: float = 0.03,
    batch_size: int = 16,
    progress: bool = False,
) -> list[CountingRun]:
    """Train each cell with each seed on a^n b^n, n <= ``n_train``, and test up to ``n_test``.

    Each run seeds torch with the seed (the initial weights) and draws its batches from
    ``numpy.random.default_rng(seed)``; it trains a one-layer ``SequenceModel`` (readout
    'all') with ``companion.train.train`` (Adam at ``lr``, ``steps`` updates of
    ``batch_size`` strings, no clipping), then scores it with
    ``companion.tasks.anbn_generalisation(model, n_test)``. Returns the runs, cell by cell,
    seed by seed (``summary`` prints them). With the defaults the six runs take about 12 s
    on one core (a GRU update costs about four LSTM updates in torch on a CPU).

    Raises ValueError for an unknown cell, a non-positive size or count, or
    ``n_test < n_train``; TypeError for a non-integer one.
    """
    cells = [checks.one_of("cell", c, tuple(families.FAMILIES)) for c in cells]
    seeds = [checks.integer("seed", s, minimum=0) for s in seeds]
    H, steps = checks.positive_int("hidden_size", hidden_size), checks.positive_int("steps", steps)
    n_train = checks.positive_int("n_train", n_train)
    n_test = checks.integer("n_test", n_test, minimum=n_train)
    task = tasks.Task.anbn(n_max=n_train, batch_size=checks.positive_int("batch_size", batch_size))
    runs = []
    for cell in cells:
        for seed in seeds:
            runs.append(_run(task, cell, seed, H, n_test, steps, lr, progress))
    return runs


def _run(task, cell, seed, H, n_test, steps, lr, progress) -> CountingRun:
    """One seeded training run and its test."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SequenceModel.for_task(task, cell, H)
    label = f"{cell}, seed {seed}" if progress else False
    history = train(model, lambda: task.sample(rng, task.batch_size), task.loss, steps, lr=lr,
                    progress=label)  # fmt: skip
    largest, correct = tasks.anbn_generalisation(model, n_test)
    loss = float(np.mean(history.loss[-50:]))
    seconds = time.perf_counter() - start
    return CountingRun(cell, seed, largest, correct, loss, count_parameters(model), seconds, model)


def states(model: SequenceModel, n: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The encoder's state after each symbol of a^n b^n, and the count it should hold.

    Returns ``h`` (2n, H) and, for an LSTM, its cell state ``c`` (2n, H) (None otherwise),
    read one step at a time with the state carried, and ``count`` (2n,): #a - #b read so
    far, the number an exact counter holds. ``companion.memory_probes.correlated_units(c,
    count)`` finds the unit that counts. Raises TypeError for a model whose encoder is not a
    one-layer ``torch.nn.RNN``, ``GRU`` or ``LSTM``, ValueError for n < 1.
    """
    n = checks.positive_int("n", n)
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, torch.nn.RNN | torch.nn.GRU | torch.nn.LSTM):
        raise TypeError(f"model must be a SequenceModel over a torch.nn.RNN, GRU or LSTM; got "
                        f"{type(encoder).__name__}")  # fmt: skip
    x = torch.as_tensor(tasks.anbn_sequences([n])[0])  # (2n, 1, 2)
    hs, cs, state = [], [], None
    with torch.no_grad():
        for t in range(2 * n):
            _, state = encoder(x[t : t + 1].to(encoder.weight_ih_l0.dtype), state)
            h, c = state if isinstance(state, tuple) else (state, None)
            hs.append(h[-1, 0].numpy().copy())
            cs.append(None if c is None else c[-1, 0].numpy().copy())
    count = np.cumsum(x[:, 0, 0].numpy() - x[:, 0, 1].numpy())
    return np.stack(hs), None if cs[0] is None else np.stack(cs), count


def summary(runs: Sequence[CountingRun], n_train: int | None = None) -> str:
    """A table: one line per cell with its parameter count and the largest n of each seed."""
    lines = [f"{'cell':<6}{'params':>8}   largest n with every n up to it right, by seed"]
    for cell in dict.fromkeys(r.cell for r in runs):
        mine = [r for r in runs if r.cell == cell]
        largest = "  ".join(f"{r.largest:>4}" for r in mine)
        lines.append(f"{cell:<6}{mine[0].parameters:>8}   {largest}")
    if n_train is not None:
        lines.append(f"(trained on n <= {checks.positive_int('n_train', n_train)})")
    return "\n".join(lines)
