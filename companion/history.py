"""What a training run records, for both training loops: the torch one (``companion.train``)
and the numpy character model (``companion.charlm``).

A run makes updates s = 1, 2, ..., each on one batch (or one window of a stream), and now and
then a validation: the model is scored on data it does not train on. Per update and per
validation i::

    loss[s-1]       training loss of update s's batch           units of the loss function
    grad_norm[s-1]  ||g_s||, the global gradient norm before clipping (inf or NaN: skipped)
    val_step[i]     number of updates done at validation i      0 = the untrained model
    val_loss[i]     validation loss there                       lower is better
    train_loss[i]   mean of loss[s-1] over val_step[i-1] < s <= val_step[i]
    metrics[k][i]   the metric k there

The units are the loss function's: nats per symbol (per character for the language model) for
a cross-entropy, squared units of the target for an MSE, the function's own for a validation
function (an RMSE in sunspot numbers, say). For a cross-entropy in nats, ``exp`` of the loss
is the perplexity, ``val_perplexity`` and ``train_perplexity``: the number of equally likely
symbols the model is, on average, choosing between.

The best validation is the lowest finite ``val_loss``; a tie is not an improvement. This
module imports numpy only, so that the numpy language model records the same ``History`` as
the torch loop without importing torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from companion import clip


@dataclass
class History:
    """A training run: one entry per update, one per validation (see the module docstring)."""

    loss: list[float] = field(default_factory=list)  # per update, the loss function's units
    grad_norm: list[float] = field(default_factory=list)  # per update, before clipping
    skipped: int = 0  # updates not applied: their gradient was not finite (clip.usable)
    val_step: list[int] = field(default_factory=list)  # updates done at each validation
    val_loss: list[float] = field(default_factory=list)  # empty if only metrics were asked
    train_loss: list[float] = field(default_factory=list)  # mean loss since the last one
    metrics: dict[str, list[float]] = field(default_factory=dict)  # name -> one per validation
    best_step: int | None = None  # val_step of the lowest finite val_loss (None: none)
    best_val_loss: float | None = None  # that val_loss
    stopped_early: bool = False  # patience ran out, or train's stop said so, before the last update
    seconds: float = 0.0  # wall time of the run, validations included
    val_seconds: float = 0.0  # of which in validations and metrics

    @property
    def val_perplexity(self) -> list[float]:
        """The validation perplexity, exp(val_loss), for a cross-entropy in nats."""
        return [math.exp(v) for v in self.val_loss]

    @property
    def train_perplexity(self) -> list[float]:
        """The training perplexity, exp(train_loss), for a cross-entropy in nats."""
        return [math.exp(v) for v in self.train_loss]

    @property
    def since_best(self) -> int:
        """Validations since the best one (all of them while none was finite)."""
        if self.best_step is None:
            return len(self.val_step)
        return len(self.val_step) - 1 - self.val_step.index(self.best_step)

    def final_loss(self, last: int = 100) -> float:
        """Mean training loss over the last ``last`` updates (a less noisy end point)."""
        if not self.loss:
            raise ValueError("the history is empty: no step was run")
        tail = [v for v in self.loss[-last:] if math.isfinite(v)]
        return float(np.mean(tail)) if tail else float("nan")

    def record_step(self, loss: float, grad_norm: float) -> bool:
        """Record an update; return whether its gradient may be applied (``clip.usable``).

        A gradient that may not be applied is counted in ``skipped``; the caller skips it.
        """
        self.loss.append(float(loss))
        self.grad_norm.append(float(grad_norm))
        usable = clip.usable(grad_norm)
        self.skipped += not usable
        return usable

    def record_validation(
        self,
        val_loss: float | None,
        metrics: dict[str, float] | None = None,
        train_loss: float | None = None,
    ) -> bool:
        """Record a validation after the updates done so far; return whether it is a new best.

        ``train_loss`` defaults to the mean of ``loss`` since the previous validation; it must
        be given at step 0 (no update yet). ``val_loss`` None records no validation loss (a run
        with metrics only), and is never a new best.
        """
        step = len(self.loss)
        since = self.val_step[-1] if self.val_step else 0
        if train_loss is None:
            train_loss = float(np.mean(self.loss[since:])) if step > since else float("nan")
        self.val_step.append(step)
        self.train_loss.append(float(train_loss))
        for name, value in (metrics or {}).items():
            self.metrics.setdefault(name, []).append(float(value))
        if val_loss is None:
            return False
        self.val_loss.append(float(val_loss))
        best = self.best_val_loss
        if math.isfinite(val_loss) and (best is None or val_loss < best):
            self.best_step, self.best_val_loss = step, float(val_loss)
            return True
        return False
