"""A compact training loop for the sequence models: Adam, optional clipping, early stopping.

One step draws a batch, computes the loss, backpropagates, optionally clips, and updates::

    x, *targets = batch_fn()              numpy or torch; x (T, B, D)
    loss = loss_fn(model(x), *targets)
    g    = dloss/dtheta                   clipped by global norm or by value if asked
    theta <- Adam(theta, g)

With validation data, every ``eval_every`` steps (and after the last) the model is scored on
them, the best weights so far are kept, and training stops once ``patience`` scores in a row
have not improved on the best (early stopping); at the end the best weights are restored::

    every eval_every steps:  v = score(model)           in eval mode, without gradients
                             v < best?  best, theta_best = v, copy(theta)
                             else: patience used up?  stop
    at the end:              theta <- theta_best

The loop is deterministic given ``companion.setup``'s seeding: the model's initial weights
come from torch's seeded generator, the batches from the numpy Generator inside ``batch_fn``,
and torch runs on the thread count that ``setup`` fixed.

Loss functions for the tasks of ``companion.tasks`` are here too, each taking the model's
output first: ``mse`` (adding problem), ``cross_entropy`` (temporal order, readout 'last') and
``masked_cross_entropy`` (copy task, readout 'all', scored on all steps or the recall steps).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

with warnings.catch_warnings():
    # Without ipywidgets, tqdm.auto warns (naming this file's path) and falls back to the
    # text bar; the text bar is what the book's notebooks record, so the warning is noise.
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm

from companion import clip as _clip

CLIP_MODES = (None, "norm", "value")


@dataclass
class History:
    """What a training run records: one entry per step, and one per validation.

    ``loss``: training loss of the step's batch; ``grad_norm``: global gradient norm before
    clipping; ``skipped``: steps whose gradient was non-finite and therefore not applied.
    With validation (``train(..., validation=...)``): ``val_step`` and ``val_loss``, the
    number of steps done at each validation and the score there; ``best_step`` and
    ``best_val_loss``, where the lowest score was (None if no score was finite);
    ``stopped_early``, True if the patience ran out before ``steps`` steps.
    """

    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    skipped: int = 0
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_step: int | None = None
    best_val_loss: float | None = None
    stopped_early: bool = False

    def final_loss(self, last: int = 100) -> float:
        """Mean training loss over the last ``last`` steps (a less noisy end point)."""
        if not self.loss:
            raise ValueError("the history is empty: no step was run")
        tail = [v for v in self.loss[-last:] if math.isfinite(v)]
        return float(np.mean(tail)) if tail else float("nan")


def _tensor(a, dtype=None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    if dtype is not None and t.is_floating_point():
        t = t.to(dtype)
    return t


def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error; ``out`` and ``y`` of one shape, e.g. (B, 1) for the adding problem."""
    if out.shape != y.shape:
        raise ValueError(
            f"mse needs out and y of one shape; got {tuple(out.shape)}, {tuple(y.shape)}"
        )
    return ((out - y) ** 2).mean()


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats) of ``logits`` (B, Q) against integer targets ``y`` (B,)."""
    return nn.functional.cross_entropy(logits, y.long())


def masked_cross_entropy(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the steps where ``mask`` is True.

    Shapes: ``logits`` (T, B, Q), ``y`` (T, B) integers, ``mask`` (T, B) bool. For the copy
    task, an all-True mask gives the loss over all positions and ``recall`` the recall-only
    loss (see ``companion.tasks.copy_baseline``).
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


def _positive_int(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise ValueError(f"{name} must be a positive integer; got {v!r}")
    return int(v)


def _validation_scorer(
    validation: tuple | list | Callable[[nn.Module], float], loss_fn: Callable[..., torch.Tensor]
) -> Callable[[nn.Module], float]:
    """A function model -> score: ``loss_fn`` on a fixed batch, or the given function."""
    if isinstance(validation, tuple | list):
        if len(validation) < 2:
            raise ValueError(
                "validation as data must be a batch (x, *targets), like batch_fn's; "
                f"got a {type(validation).__name__} of length {len(validation)}"
            )
        batch = tuple(validation)
        return lambda model: evaluate(model, batch, loss_fn)
    if callable(validation) and not isinstance(validation, nn.Module):
        return validation
    raise TypeError(
        "validation must be a batch (x, *targets) scored with loss_fn, or a function "
        f"model -> float (lower is better); got {type(validation).__name__}"
    )


@contextlib.contextmanager
def evaluation_mode(model: nn.Module):
    """Within the block, ``model`` is in eval mode (dropout off) and no gradient is recorded;
    afterwards it is back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def _score(scorer: Callable[[nn.Module], float], model: nn.Module) -> float:
    """``scorer(model)`` in eval mode (no dropout) and without gradients, as a float."""
    with evaluation_mode(model):
        value = scorer(model)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"the validation function must return a number; got {type(value).__name__}"
        ) from None


def train(
    model: nn.Module,
    batch_fn: Callable[[], tuple],
    loss_fn: Callable[..., torch.Tensor],
    steps: int,
    lr: float = 1e-3,
    clip: str | None = None,
    clip_at: float = 1.0,
    progress: bool | str = True,
    validation: tuple | list | Callable[[nn.Module], float] | None = None,
    eval_every: int = 100,
    patience: int | None = None,
    restore_best: bool = True,
) -> History:
    """Train ``model`` with Adam for up to ``steps`` steps; return the ``History``.

    Args:
        model: a ``torch.nn.Module`` mapping x (T, B, D) to outputs, e.g. ``SequenceModel``.
        batch_fn: called once per step; returns ``(x, *targets)`` as numpy arrays or tensors.
            Floating arrays are cast to the model's dtype.
        loss_fn: ``loss_fn(model(x), *targets)`` -> scalar tensor.
        steps: number of updates.
        lr: Adam's learning rate.
        clip: None, 'norm' (global norm at ``clip_at``) or 'value' (each entry at ``clip_at``).
            With clipping on, a non-finite gradient skips the step and is counted in
            ``History.skipped``; without clipping it is applied, as plain training would.
        progress: show a tqdm progress bar; a string is used as its label.
        validation: None (no validation), a fixed batch ``(x, *targets)`` scored with
            ``loss_fn``, or a function ``model -> float`` (lower is better, e.g. an RMSE in
            the data's units). The model is scored in eval mode, without gradients, after
            every ``eval_every`` steps and after the last step; the scores go to
            ``History.val_loss``.
        eval_every: steps between two validations.
        patience: with validation, stop once this many validations in a row have not gone
            below the best score so far (``History.stopped_early``); None never stops early.
        restore_best: with validation, load the weights of the best validation at the end,
            so that ``model`` leaves with the weights that ``History.best_val_loss`` scored.
            With no finite score there is no best, and the last weights are kept.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    if clip not in CLIP_MODES:
        raise ValueError(f"clip must be one of {CLIP_MODES}; got {clip!r}")
    eval_every = _positive_int("eval_every", eval_every)
    if patience is not None:
        if isinstance(patience, bool) or not isinstance(patience, int | np.integer) or patience < 1:
            raise ValueError(
                f"patience must be None or a positive integer (a number of validations); "
                f"got {patience!r}"
            )
        if validation is None:
            raise ValueError(
                "patience needs validation: pass validation=(x, *targets) or a function "
                "model -> float"
            )
    if not isinstance(restore_best, bool):
        raise TypeError(f"restore_best must be True or False; got {restore_best!r}")
    scorer = None if validation is None else _validation_scorer(validation, loss_fn)
    dtype = next(model.parameters()).dtype
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    best_state, waited = None, 0
    label = progress if isinstance(progress, str) else "training"
    bar = tqdm(range(steps), desc=label, disable=not progress, mininterval=1.0)
    for done in bar:
        x, *targets = batch_fn()
        x = _tensor(x, dtype)
        targets = [_tensor(t, dtype) for t in targets]
        optimizer.zero_grad()
        loss = loss_fn(model(x), *targets)
        loss.backward()
        params = list(model.parameters())
        if clip == "norm":
            norm = _clip.clip_grad_norm_(params, clip_at, nonfinite="report")
        elif clip == "value":
            norm = _clip.clip_grad_value_(params, clip_at, nonfinite="report")
        else:
            norm = _clip.torch_global_norm(params)
        if clip is not None and not math.isfinite(norm):
            history.skipped += 1
        else:
            optimizer.step()
        history.loss.append(float(loss.detach()))
        history.grad_norm.append(norm)
        if scorer is not None and ((done + 1) % eval_every == 0 or done + 1 == steps):
            value = _score(scorer, model)
            history.val_step.append(done + 1)
            history.val_loss.append(value)
            if math.isfinite(value) and (best_state is None or value < history.best_val_loss):
                history.best_step, history.best_val_loss, waited = done + 1, value, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if patience is not None and waited >= patience and done + 1 < steps:
                    history.stopped_early = True
                    break
    bar.close()
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return history


def evaluate(model: nn.Module, batch: tuple, loss_fn: Callable[..., torch.Tensor]) -> float:
    """``loss_fn(model(x), *targets)`` on one fixed batch ``(x, *targets)``, in eval mode (no
    dropout) and without gradients; the model's mode is restored afterwards."""
    dtype = next(model.parameters()).dtype
    x, *targets = batch
    with evaluation_mode(model):
        return float(loss_fn(model(_tensor(x, dtype)), *[_tensor(t, dtype) for t in targets]))
