"""Synthetic tasks, each with its data, loss, metrics and baseline in one place.

Each generator takes a sequence length, a batch size and a ``numpy.random.Generator`` (so a
seeded generator gives the same batches on every machine), and returns time-major float32
inputs ``x`` of shape (T, B, D) with their targets. Each task has its baseline: the loss of the
best answer that ignores the long-range dependency, the number a model must beat to show it
has learned anything.

==============  ==================  ==================  =================================
task            x                   target              loss; metric; baseline
==============  ==================  ==================  =================================
adding          (T, B, 2)           y (B, 1) float      MSE; 1/6, always answering 1
copy            (L, B, K+2)         y (L, B) int, mask  cross-entropy on the recall steps;
                                                        recall accuracy; log K
temporal order  (T, B, 8)           y (B,) int in 0..3  cross-entropy; accuracy; log 4
noisy sine      (T, B, 1)           y (T, B, 1) float   MSE; repeating the last input
a^n b^n         (2 n_max, B, 2)     y (T, B), masks     cross-entropy on the real steps;
                                                        sequences whose deterministic
                                                        steps are all right; none
==============  ==================  ==================  =================================

The losses and metrics take the model's output first and the targets after it, in the order
the generator returns them; they are torch functions, the generators and baselines numpy.
``Task`` bundles one task's generator, loss, metrics, baseline and sizes, which is what
``companion.experiments.compare`` and ``companion.models.SequenceModel.for_task`` need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from companion import checks

ADDING_BASELINE_MSE = 1.0 / 6.0
#: The a^n b^n alphabet, the two letters (the inputs, ids 0 and 1) and the end symbol (id 2).
ANBN_SYMBOLS = ("a", "b", "$")
#: The temporal order alphabet. Four distractors, start B, end E, the two informative symbols.
TEMPORAL_SYMBOLS = ("a", "b", "c", "d", "B", "E", "X", "Y")


def adding_problem(T: int, B: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A batch of the adding problem (Hochreiter and Schmidhuber 1997; Le et al. 2015's form).

    Each input step is a pair (value, marker): values are drawn from U(0, 1); exactly two
    markers are 1, one at a step drawn uniformly from the first half, ``[0, T//2)``, and one
    from the second half, ``[T//2, T)``; all other markers are 0. The target is the sum of the
    two marked values::

        y = sum_t x[t, :, 0] * x[t, :, 1]        in (0, 2), mean 1, variance 1/6

    Returns ``x`` (T, B, 2) and ``y`` (B, 1), float32. Needs T >= 2.
    """
    T, B = _sizes(T, B, rng, T_min=2)
    values = rng.uniform(0.0, 1.0, size=(T, B))
    first = rng.integers(0, T // 2, size=B)
    second = rng.integers(T // 2, T, size=B)
    markers = np.zeros((T, B))
    markers[first, np.arange(B)] = 1.0
    markers[second, np.arange(B)] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)  # (T, B, 2)
    y = (values * markers).sum(axis=0, keepdims=True).T.astype(np.float32)  # (B, 1)
    return x, y


def adding_baseline_mse() -> float:
    """MSE of always answering 1 on the adding problem: exactly 1/6.

    The target is the sum s = u1 + u2 of two independent U(0, 1) values, so E[s] = 1 and
    E[(s - 1)^2] = Var(s) = 2 * (1/12) = 1/6 ~ 0.167. No constant answer does better, since
    the mean minimises the expected squared error.
    """
    return ADDING_BASELINE_MSE


def copy_task(
    delay: int, B: int, rng: np.random.Generator, n_symbols: int = 8, n_copy: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A batch of the copy (memory) task of Arjovsky, Shah and Bengio (2016).

    Tokens: 0 is blank, 1..K are the K = ``n_symbols`` data symbols, K + 1 is the delimiter.
    The input shows ``n_copy`` random data symbols, then ``delay - 1`` blanks, the delimiter,
    and ``n_copy`` blanks, so its length is L = delay + 2 * n_copy. The target is blank
    everywhere except the last ``n_copy`` steps, which must repeat the data symbols in order.

    Returns ``x`` (L, B, K + 2) one-hot float32, ``y`` (L, B) int64 target tokens, and
    ``recall`` (L, B) bool, True on the last ``n_copy`` steps (where the model must recall).
    """
    delay, B = _sizes(delay, B, rng, T_min=1, name="delay")
    K, n_copy = checks.positive_int("n_symbols", n_symbols), checks.positive_int("n_copy", n_copy)
    L = delay + 2 * n_copy
    data = rng.integers(1, K + 1, size=(n_copy, B))
    tokens = np.zeros((L, B), dtype=np.int64)
    tokens[:n_copy] = data
    tokens[n_copy + delay - 1] = K + 1  # the delimiter: "start writing now"
    y = np.zeros((L, B), dtype=np.int64)
    y[-n_copy:] = data
    recall = np.zeros((L, B), dtype=bool)
    recall[-n_copy:] = True
    x = np.eye(K + 2, dtype=np.float32)[tokens]  # (L, B, K + 2)
    return x, y, recall


def copy_baseline(delay: int, n_symbols: int = 8, n_copy: int = 10, loss: str = "all") -> float:
    """Cross-entropy (nats per scored step) of the best memoryless answer on the copy task.

    A model without memory can still predict blank on the first L - n_copy steps with
    certainty and a uniform guess over the K symbols on the last n_copy steps:

    - ``loss="all"`` (averaged over all L = delay + 2 n_copy steps, Arjovsky et al.'s form):
      n_copy log K / L, which shrinks as the delay grows, so a small loss says little;
    - ``loss="recall"`` (averaged over the recall steps only): log K, independent of the delay.
    """
    checks.one_of("loss", loss, ("all", "recall"))
    delay, K = checks.positive_int("delay", delay), checks.positive_int("n_symbols", n_symbols)
    n_copy = checks.positive_int("n_copy", n_copy)
    per_recall_step = float(np.log(K))
    if loss == "recall":
        return per_recall_step
    return n_copy * per_recall_step / (delay + 2 * n_copy)


def temporal_order(T: int, B: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A batch of the temporal order problem (Hochreiter and Schmidhuber 1997, experiment 6a).

    A sequence of T symbols starts with ``B`` and ends with ``E``; every other step holds a
    random distractor from a, b, c, d, except two steps t1 in [T/10, 2T/10] and t2 in
    [5T/10, 6T/10] (inclusive, rounded down), which hold X or Y. The class is the ordered pair:
    0 for XX, 1 for XY, 2 for YX, 3 for YY. (The paper uses T in 100..110 with t1 in 10..20
    and t2 in 50..60.)

    Returns ``x`` (T, B, 8) one-hot float32 over ``TEMPORAL_SYMBOLS`` and ``y`` (B,) int64.
    Needs T >= 10, so that the two windows do not overlap and miss the ends.
    """
    T, B = _sizes(T, B, rng, T_min=10)
    tokens = rng.integers(0, 4, size=(T, B))  # distractors a..d
    tokens[0], tokens[-1] = 4, 5  # B ... E
    t1 = rng.integers(T // 10, 2 * T // 10 + 1, size=B)
    t2 = rng.integers(5 * T // 10, 6 * T // 10 + 1, size=B)
    s1 = rng.integers(0, 2, size=B)  # 0: X, 1: Y
    s2 = rng.integers(0, 2, size=B)
    tokens[t1, np.arange(B)] = 6 + s1
    tokens[t2, np.arange(B)] = 6 + s2
    x = np.eye(8, dtype=np.float32)[tokens]  # (T, B, 8)
    y = (2 * s1 + s2).astype(np.int64)
    return x, y


def temporal_order_baseline() -> float:
    """Cross-entropy of a uniform guess over the four classes, log 4 (accuracy 1/4)."""
    return float(np.log(4.0))


def noisy_sine(
    T: int,
    B: int,
    rng: np.random.Generator,
    period: float | tuple[float, float] = 20.0,
    noise: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """A batch of next-step prediction on a noisy sine wave.

    Each sequence b has a phase phi_b drawn uniformly from [0, 2 pi) and a period P_b (the
    number given, or drawn uniformly from [low, high) if ``period`` is a pair)::

        s_t = sin(2 pi t / P_b + phi_b)                 the clean wave, t = 0..T
        x_t = s_t + noise * eps_t,   eps_t ~ N(0, 1)    what the model reads, t = 0..T-1
        y_t = s_{t+1}                                    the target: the clean next value

    The target is the noise-free next value. The noise cannot be predicted, so the best
    prediction of the noisy next value is the clean one anyway (given the phase, its
    expectation); a clean target has the same optimum, a loss that can go to 0 instead of
    stopping at noise^2, and a plot in which the prediction visibly locks onto the clean wave
    while the input jitters around it.

    Returns ``x`` (T, B, 1) and ``y`` (T, B, 1), float32.
    """
    T, B = _sizes(T, B, rng, T_min=1)
    low, high = _period(period)
    noise = checks.number("noise", noise, low=0.0)
    phase = rng.uniform(0.0, 2 * np.pi, size=B)
    P = np.full(B, low) if low == high else rng.uniform(low, high, size=B)
    t = np.arange(T + 1)[:, None]  # (T + 1, 1)
    clean = np.sin(2 * np.pi * t / P + phase)  # (T + 1, B)
    x = clean[:-1] + noise * rng.standard_normal((T, B))
    y = clean[1:]
    return x[..., None].astype(np.float32), y[..., None].astype(np.float32)


def noisy_sine_baseline_mse(period: float, noise: float = 0.1) -> float:
    """MSE of repeating the last input (y_t = x_t) on ``noisy_sine`` with a fixed period.

    With w = 2 pi / P, sin(theta + w) - sin(theta) = 2 cos(theta + w/2) sin(w/2), whose mean
    square over a uniform phase is 2 sin^2(w/2) = 1 - cos w; the input's noise adds noise^2::

        MSE = 1 - cos(2 pi / P) + noise^2

    For P = 20 and noise = 0.1 that is about 0.059. (Predicting 0 gives 1/2.) A model that has
    learned anything about the wave beats this; one that has filtered out the noise and
    inferred the phase gets close to 0.
    """
    low, high = _period(period)
    if low != high:
        raise ValueError(f"the baseline needs a single period; got {period!r}")
    noise = checks.number("noise", noise, low=0.0)
    return float(1.0 - np.cos(2 * np.pi / low) + noise**2)


def anbn_sequences(ns) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The strings a^n b^n, one per n in ``ns``, as next-symbol prediction (Weiss, Goldberg and
    Yahav 2018, "On the practical computational power of finite precision RNNs for language
    recognition", ACL; arXiv 1805.04908).

    Column b holds s = a^n b^n $ with n = ns[b], read one symbol at a time::

        x_t = s_t,  y_t = s_{t+1}          t = 0 .. 2n - 1   (valid)
        deterministic:  n <= t <= 2n - 1   (the b's after the first, and the end symbol $)

    Before the first b, a reader cannot know whether the next symbol is a or b; once a b has
    been read, every next symbol follows from the number of a's, so a model that counts gets
    each one right, for every n. Columns are padded after their end (x zero, y 0, both masks
    False), so a causal model's outputs on the real steps do not depend on the padding.

    Returns ``x`` (T, B, 2) one-hot float32 over a, b; ``y`` (T, B) int64 ids in
    ``ANBN_SYMBOLS``; ``valid`` and ``deterministic`` (T, B) bool; T = 2 max(ns), B = len(ns).
    Raises ValueError for an empty ``ns`` or an n below 1, TypeError for a non-integer n.
    """
    ns = [checks.positive_int("n", n) for n in ns]
    if not ns:
        raise ValueError("ns must hold at least one n")
    n = np.array(ns)[None, :]  # (1, B)
    t = np.arange(2 * n.max())[:, None]  # (T, 1)
    valid = t < 2 * n
    x = np.zeros((t.size, n.size, 2), dtype=np.float32)
    x[..., 0] = t < n  # a
    x[..., 1] = (t >= n) & valid  # b
    y = np.where(t + 1 < n, 0, np.where(t + 1 < 2 * n, 1, 2))
    y = np.where(valid, y, 0).astype(np.int64)
    return x, y, valid, (t >= n) & valid


def anbn(
    B: int, rng: np.random.Generator, n_max: int = 50, n_min: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A batch of ``anbn_sequences`` with each n drawn uniformly from [n_min, n_max]."""
    checks.generator(rng)
    B, n_min = checks.positive_int("B", B), checks.positive_int("n_min", n_min)
    n_max = checks.integer("n_max", n_max, minimum=n_min)
    return anbn_sequences(rng.integers(n_min, n_max + 1, size=B))


# --- losses and metrics: the model's output first, then the targets -----------------------


def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error (1/N) sum (out - y)^2; ``out`` and ``y`` of one shape, e.g. (B, 1).

    Raises ValueError if the shapes differ (broadcasting (B, 1) against (B,) would silently
    average B^2 differences).
    """
    if out.shape != y.shape:
        raise ValueError(
            f"mse needs out and y of one shape; got {tuple(out.shape)}, {tuple(y.shape)}"
        )
    return ((out - y) ** 2).mean()


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats), -(1/B) sum_b log softmax(logits_b)[y_b], of ``logits``
    (B, Q) against integer classes ``y`` (B,)."""
    return nn.functional.cross_entropy(logits, y.long())


def masked_cross_entropy(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats) over the steps where ``mask`` is True.

    Shapes: ``logits`` (T, B, Q), ``y`` (T, B) integers, ``mask`` (T, B) bool. For the copy
    task, an all-True mask gives the loss over all positions and ``recall`` the recall-only
    loss (see ``copy_baseline``). Raises ValueError if the shapes disagree.
    """
    if logits.shape[:2] != y.shape or y.shape != mask.shape:
        raise ValueError(
            f"logits (T, B, Q), y (T, B), mask (T, B) must agree; got "
            f"{tuple(logits.shape)}, {tuple(y.shape)}, {tuple(mask.shape)}"
        )
    per_step = nn.functional.cross_entropy(
        logits.flatten(0, 1), y.flatten().long(), reduction="none"
    )
    m = mask.flatten().to(per_step.dtype)
    return (per_step * m).sum() / m.sum()


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of ``logits`` (B, Q) whose argmax is the class ``y`` (B,)."""
    return float((logits.argmax(-1) == y).double().mean())


def recall_accuracy(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> float:
    """Fraction of the masked steps where argmax ``logits`` (T, B, Q) is ``y`` (T, B)."""
    return float((logits.argmax(-1) == y)[mask].double().mean())


def anbn_loss(
    logits: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, deterministic: torch.Tensor
) -> torch.Tensor:
    """``masked_cross_entropy`` of the next symbol over the real (``valid``) steps of
    ``anbn``'s batch; ``logits`` (T, B, 3). ``deterministic`` is not used (it is a target of
    the batch, for the metric)."""
    return masked_cross_entropy(logits, y, valid)


def anbn_correct(logits: torch.Tensor, y: torch.Tensor, deterministic: torch.Tensor) -> np.ndarray:
    """(B,) bool: for each sequence, whether argmax ``logits`` (T, B, 3) is ``y`` (T, B) at
    every ``deterministic`` step (T, B)."""
    wrong = (torch.as_tensor(logits).argmax(-1) != torch.as_tensor(y)) & torch.as_tensor(
        deterministic, dtype=torch.bool
    )
    return ~wrong.any(0).cpu().numpy()


def anbn_accuracy(
    logits: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, deterministic: torch.Tensor
) -> float:
    """Fraction of the sequences whose deterministic steps are all predicted right."""
    return float(anbn_correct(logits, y, deterministic).mean())


def anbn_generalisation(model: Callable[[torch.Tensor], torch.Tensor], n_max: int = 200):
    """Up to which n a model predicts every deterministic symbol of a^n b^n $ right.

    ``model`` maps x (T, B, 2) to logits (T, B, 3) (a ``SequenceModel`` with readout 'all',
    or any function); it reads a^n b^n for every n = 1 .. ``n_max`` in one batch (an
    ``nn.Module`` in eval mode, without gradients). Returns ``(largest, correct)``:
    ``correct`` (n_max,) bool, entry n - 1 for n; ``largest`` the largest N such that every
    n <= N is right (0 if n = 1 is wrong). Training on n <= 50 and ``largest`` = 200 means
    the model counts beyond the lengths it saw.
    """
    n_max = checks.positive_int("n_max", n_max)
    x, y, _, deterministic = anbn_sequences(range(1, n_max + 1))
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        with torch.no_grad():
            dtype = next(model.parameters()).dtype if isinstance(model, nn.Module) else None
            logits = model(torch.as_tensor(x, dtype=dtype))
    finally:
        if was_training is not None:
            model.train(was_training)
    correct = anbn_correct(logits, torch.as_tensor(y), torch.as_tensor(deterministic))
    largest = int(np.argmin(correct)) if not correct.all() else n_max
    return largest, correct


# --- a task as one object -------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One task: its batches, loss, metrics, baseline, and the sizes a model for it needs.

    ``Task.adding``, ``Task.temporal_order`` and ``Task.copy`` build the tasks above.
    """

    name: str  # printed in tables and progress bars
    sample: Callable[[np.random.Generator, int], tuple]  # (rng, B) -> (x, *targets), numpy
    loss: Callable[..., torch.Tensor]  # loss(out, *targets), the training loss
    input_size: int  # D of a model for the task
    output_size: int  # Q of its readout
    readout: str = "last"  # its readout kind: 'last' (h_T) or 'all' (every h_t)
    metrics: Mapping[str, Callable[..., float]] = field(default_factory=dict)  # (out, *targets)
    baseline: float | None = None  # the loss of the best answer without long-range memory
    batch_size: int = 32  # training batch
    test_size: int = 1000  # examples in the test batch of ``compare``

    @classmethod
    def adding(cls, T: int, batch_size: int = 32, test_size: int = 1000) -> Task:
        """The adding problem at length T: ``mse``, baseline 1/6."""
        return cls(f"adding problem, T={T}", lambda rng, B: adding_problem(T, B, rng), mse,
                   input_size=2, output_size=1, baseline=adding_baseline_mse(),
                   batch_size=batch_size, test_size=test_size)  # fmt: skip

    @classmethod
    def temporal_order(cls, T: int, batch_size: int = 32, test_size: int = 1000) -> Task:
        """The temporal order problem at length T: ``cross_entropy``, ``accuracy`` (chance
        1/4), baseline log 4."""
        return cls(f"temporal order, T={T}", lambda rng, B: temporal_order(T, B, rng),
                   cross_entropy, input_size=len(TEMPORAL_SYMBOLS), output_size=4,
                   metrics={"accuracy": accuracy}, baseline=temporal_order_baseline(),
                   batch_size=batch_size, test_size=test_size)  # fmt: skip

    @classmethod
    def copy(
        cls,
        delay: int,
        n_symbols: int = 8,
        n_copy: int = 10,
        batch_size: int = 32,
        test_size: int = 500,
    ) -> Task:
        """The copy task, scored on the recall steps only: ``masked_cross_entropy``,
        ``recall_accuracy`` (chance 1 / n_symbols), baseline log n_symbols."""
        sample = lambda rng, B: copy_task(delay, B, rng, n_symbols, n_copy)  # noqa: E731
        return cls(f"copy, delay {delay}, {n_symbols} symbols", sample, masked_cross_entropy,
                   input_size=n_symbols + 2, output_size=n_symbols + 2, readout="all",
                   metrics={"recall accuracy": recall_accuracy},
                   baseline=copy_baseline(delay, n_symbols, n_copy, loss="recall"),
                   batch_size=batch_size, test_size=test_size)  # fmt: skip

    @classmethod
    def anbn(
        cls, n_max: int = 50, n_min: int = 1, batch_size: int = 32, test_size: int = 200
    ) -> Task:
        """a^n b^n with n uniform in [n_min, n_max]: ``anbn_loss``, ``anbn_accuracy`` (the
        fraction of sequences with every deterministic step right); no baseline. Test beyond
        the training lengths with ``anbn_generalisation``."""
        n_max = checks.integer("n_max", n_max, minimum=checks.positive_int("n_min", n_min))
        sample = lambda rng, B: anbn(B, rng, n_max, n_min)  # noqa: E731
        return cls(f"a^n b^n, n in [{n_min}, {n_max}]", sample, anbn_loss, input_size=2,
                   output_size=len(ANBN_SYMBOLS), readout="all",
                   metrics={"sequences right": anbn_accuracy},
                   batch_size=batch_size, test_size=test_size)  # fmt: skip


# --- argument checks --------------------------------------------------------------------------


def _sizes(T: object, B: object, rng: object, T_min: int, name: str = "T") -> tuple[int, int]:
    """(T, B) as ints, checked, for a generator drawing from ``rng``."""
    checks.generator(rng)
    return checks.integer(name, T, T_min), checks.positive_int("B", B)


def _period(period: object) -> tuple[float, float]:
    """(low, high) from a period or a pair of them, 0 < low <= high."""
    pair = period if isinstance(period, tuple) else (period, period)
    if len(pair) != 2:
        raise ValueError(f"period must be a number or a pair (low, high); got {period!r}")
    low, high = (checks.positive_number("period", p) for p in pair)
    if low > high:
        raise ValueError(f"period (low, high) needs 0 < low <= high; got {period!r}")
    return low, high
