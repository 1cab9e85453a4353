"""The training loop of the torch models: Adam, optional clipping, validation, early stopping,
and truncated BPTT over long streams.

One update draws a batch, computes the loss, backpropagates, clips if asked, and steps::

    x, *targets = batch_fn()              numpy or torch; x (T, B, D)
    loss = loss_fn(model(x), *targets)
    g    = dloss/dtheta                   clipped by global norm or by value if asked
    theta <- Adam(theta, g)               skipped if ||g|| is not finite (clip.usable)

Validation. Every ``eval_every`` updates (and after the last) the model is scored, in eval
mode and without gradients, on ``validation`` and on each of ``metrics``; the best weights so
far are kept, and training stops once ``patience`` validations in a row have not improved on
the best (early stopping), or once the caller's ``stop`` says so (say, when the task is
solved); at the end the best weights are restored::

    every eval_every updates:  v = score(model);  m_k = metric_k(model)
                               v < best?  best, theta_best = v, copy(theta)
                               else: patience used up?  stop
                               stop(history)?  stop
    at the end:                theta <- theta_best

Truncated BPTT over streams (``window=k``). ``batch_fn`` then returns long streams x (L, B, D)
and time-major targets, and each update trains on the next window of k steps of them; with
``carry_state`` the window starts from the state the previous one ended in, detached, as
``companion.tbptt.run_windows`` does::

    out, state = forward(x[w], state)     state: None (zeros) at the start of new streams
    loss = loss_fn(out, *targets[w]);  update as above;  state = detach(state)

The loop is deterministic given ``companion.setup``'s seeding: the model's initial weights
come from torch's seeded generator, the batches from the numpy Generator inside ``batch_fn``,
and torch runs on the thread count that ``setup`` fixed. What it records is a
``companion.history.History``. The loss functions of the tasks live in ``companion.tasks``.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

with warnings.catch_warnings():
    # Without ipywidgets, tqdm.auto warns (naming this file's path) and falls back to the
    # text bar; the text bar is what the book's notebooks record, so the warning is noise.
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm

from companion import checks, tbptt
from companion import clip as _clip
from companion.history import History

CLIP_MODES = _clip.MODES
__all__ = ["CLIP_MODES", "History", "evaluate", "evaluation_mode", "train"]


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
    metrics: Mapping[str, Callable[[nn.Module], float]] | None = None,
    window: int | None = None,
    carry_state: bool = False,
    forward: Callable[[torch.Tensor, object], tuple[torch.Tensor, object]] | None = None,
    stop: Callable[[History], bool] | None = None,
) -> History:
    """Train ``model`` with Adam for up to ``steps`` updates; return the ``History``.

    Args:
        model: a ``torch.nn.Module`` mapping x (T, B, D) to outputs, e.g. ``SequenceModel``.
        batch_fn: called for each batch; returns ``(x, *targets)`` as numpy arrays or tensors.
            Floating arrays are cast to the model's dtype. With ``window``: long streams.
            ``x`` may be a tuple of arrays for a model of several inputs (a padded source and
            its lengths, say), which is then called as ``model(*x)`` (not with ``window``).
        loss_fn: ``loss_fn(model(x), *targets)`` -> scalar tensor.
        steps: number of updates.
        lr: Adam's learning rate.
        clip: None, 'norm' (global norm at ``clip_at``) or 'value' (each entry at ``clip_at``).
        clip_at: the clipping threshold.
        progress: show a tqdm progress bar; a string is used as its label.
        validation: None, a fixed batch ``(x, *targets)`` scored with ``loss_fn`` (through
            ``forward`` from a zero state, if there is one), or a function ``model -> float``
            (lower is better, e.g. an RMSE in the data's units). The scores go to
            ``History.val_loss``.
        eval_every: updates between two validations (the last update is always followed by
            one).
        patience: with validation, stop once this many validations in a row have not gone
            below the best score so far (``History.stopped_early``); None never stops early.
        restore_best: with validation, load the weights of the best validation at the end,
            so that ``model`` leaves with the weights that ``History.best_val_loss`` scored.
            With no finite score there is no best, and the last weights are kept.
        metrics: None, or name -> function ``model -> float``, each recorded at every
            validation into ``History.metrics[name]`` (aligned with ``History.val_step``), in
            eval mode and without gradients. They are recorded without a ``validation`` too;
            they never stop the training.
        window: None (each ``batch_fn()`` is one batch), or k: each ``batch_fn()`` returns
            streams (L, B, D) with targets (L, ...), trained on window by window, k steps per
            update; new streams are drawn when these are used up.
        carry_state: each window (or batch) starts from the state the previous one ended in,
            detached (truncated BPTT); the state restarts from None (zeros) with new streams
            and after a skipped update. The model is then called as ``forward(x, state)``.
        forward: ``forward(x, state) -> (out, state)``, the stateful call (default:
            ``model(x, state)``, the convention of ``torch.nn.RNN``); None without
            ``carry_state`` calls ``model(x)``.
        stop: None, or a function ``history -> bool``, called every ``eval_every`` updates
            but the last, after the validation (if any) and the patience check, with the
            ``History`` so far; True stops the training there. ``History.stopped_early`` is
            then set, as when the patience runs out (with both, ``History.since_best``
            reaching ``patience`` tells which stopped it).

    A non-finite gradient is never applied (``companion.clip.usable``, the same rule as
    ``companion.charlm.train``): the update is skipped and counted in ``History.skipped``.

    Raises:
        TypeError: a model that is not a ``torch.nn.Module``, a non-integer (or bool) count, a
            non-callable ``batch_fn``, ``loss_fn``, metric, ``forward`` or ``stop``.
        ValueError: a count below 1, a non-positive ``lr`` or ``clip_at``, an unknown
            ``clip``, ``patience`` without ``validation``, streams whose targets differ in
            length from x.
    """
    steps, eval_every, patience, window, forward, scorer, metrics = _arguments(
        model, batch_fn, loss_fn, steps, lr, clip, clip_at, validation, eval_every, patience,
        restore_best, metrics, window, carry_state, forward, stop,
    )  # fmt: skip
    dtype = next(model.parameters()).dtype
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, best_state, state = History(), None, None
    batches = _batches(batch_fn) if window is None else _windows(batch_fn, window)
    label = progress if isinstance(progress, str) else "training"
    bar = tqdm(range(steps), desc=label, disable=not progress, mininterval=1.0)
    start = time.perf_counter()
    for done in bar:
        new_streams, (x, *targets) = next(batches)
        x, targets = _tensor(x, dtype), [_tensor(t, dtype) for t in targets]
        optimizer.zero_grad()
        if forward is None:
            out = model(*x) if isinstance(x, tuple) else model(x)
        else:
            out, state = forward(x, state if carry_state and not new_streams else None)
        loss = loss_fn(out, *targets)
        loss.backward()
        norm = _clip.by_mode_(model.parameters(), clip, clip_at)
        if history.record_step(float(loss.detach()), norm):
            optimizer.step()
            state = None if state is None else tbptt.detach(state)
        else:
            state = None  # the carried state may be what went wrong
        if (done + 1) % eval_every != 0 and done + 1 < steps:
            continue
        if scorer is not None or metrics:
            tick = time.perf_counter()
            with evaluation_mode(model):
                value = None if scorer is None else _number("validation", scorer(model))
                scores = {k: _number(f"metrics[{k!r}]", m(model)) for k, m in metrics.items()}
            if history.record_validation(value, scores) and restore_best:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            history.val_seconds += time.perf_counter() - tick
        if done + 1 < steps and (
            (patience is not None and history.since_best >= patience)
            or (stop is not None and stop(history))
        ):
            history.stopped_early = True
            break
    bar.close()
    history.seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def evaluate(model: nn.Module, batch: tuple, loss_fn: Callable[..., torch.Tensor]) -> float:
    """``loss_fn(model(x), *targets)`` on one fixed batch ``(x, *targets)``, in eval mode (no
    dropout) and without gradients; the model's mode is restored afterwards."""
    with evaluation_mode(model):
        return _batch_loss(model, None, batch, loss_fn)


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


def _arguments(
    model, batch_fn, loss_fn, steps, lr, clip, clip_at, validation, eval_every, patience,
    restore_best, metrics, window, carry_state, forward, stop,
) -> tuple:  # fmt: skip
    """Check ``train``'s arguments; return them normalised, with the validation scorer."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    steps = checks.positive_int("steps", steps)
    eval_every = checks.positive_int("eval_every", eval_every)
    lr, clip_at = checks.positive_number("lr", lr), checks.positive_number("clip_at", clip_at)
    checks.one_of("clip", clip, CLIP_MODES)
    _callable("batch_fn", batch_fn)
    _callable("loss_fn", loss_fn)
    for name, flag in (("restore_best", restore_best), ("carry_state", carry_state)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False; got {flag!r}")
    if patience is not None:
        patience = checks.positive_int("patience", patience)
        if validation is None:
            raise ValueError(
                "patience needs validation: pass validation=(x, *targets) or a function "
                "model -> float"
            )
    window = None if window is None else checks.positive_int("window", window)
    if forward is None and carry_state:
        forward = model
    elif forward is not None:
        _callable("forward", forward)
    if stop is not None:
        _callable("stop", stop)
    scorer = None if validation is None else _validation_scorer(validation, loss_fn, forward)
    metrics = _check_metrics(metrics)
    return steps, eval_every, patience, window, forward, scorer, metrics


def _batch_loss(model, forward, batch, loss_fn) -> float:
    dtype = next(model.parameters()).dtype
    x, *targets = (_tensor(a, dtype) for a in batch)
    if forward is None:
        out = model(*x) if isinstance(x, tuple) else model(x)
    else:
        out = forward(x, None)[0]
    return float(loss_fn(out, *targets))


def _tensor(a, dtype=None) -> torch.Tensor | tuple[torch.Tensor, ...]:
    if isinstance(a, tuple):  # the several inputs of one model
        return tuple(_tensor(e, dtype) for e in a)
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    if dtype is not None and t.is_floating_point():
        t = t.to(dtype)
    return t


def _batches(batch_fn: Callable[[], tuple]):
    """Yield ``(False, batch_fn())`` for ever: each batch continues the last one's streams."""
    while True:
        yield False, batch_fn()


def _windows(batch_fn: Callable[[], tuple], k: int):
    """Yield ``(new_streams, (x[w], *targets[w]))`` over the windows of fresh streams."""
    while True:
        x, *targets = batch_fn()
        if isinstance(x, tuple):
            raise TypeError("window= takes one input stream x (L, B, D), not a tuple of inputs")
        L = len(x)
        for t in targets:
            if len(t) != L:
                raise ValueError(
                    f"with window, batch_fn must return streams x (L, B, D) and targets of "
                    f"the same length L = {L} on axis 0; got a target of length {len(t)}"
                )
        for i, w in enumerate(tbptt.window_slices(L, k)):
            yield i == 0, (x[w], *(t[w] for t in targets))


def _validation_scorer(validation, loss_fn, forward) -> Callable[[nn.Module], float]:
    """A function model -> score: ``loss_fn`` on a fixed batch, or the given function."""
    if isinstance(validation, tuple | list):
        if len(validation) < 2:
            raise ValueError(
                "validation as data must be a batch (x, *targets), like batch_fn's; "
                f"got a {type(validation).__name__} of length {len(validation)}"
            )
        batch = tuple(validation)
        return lambda model: _batch_loss(model, forward, batch, loss_fn)
    if callable(validation) and not isinstance(validation, nn.Module):
        return validation
    raise TypeError(
        "validation must be a batch (x, *targets) scored with loss_fn, or a function "
        f"model -> float (lower is better); got {type(validation).__name__}"
    )


def _check_metrics(metrics: object) -> dict[str, Callable[[nn.Module], float]]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"metrics must be None or a dict name -> function model -> float; "
            f"got {type(metrics).__name__}"
        )
    for name, fn in metrics.items():
        if not isinstance(name, str):
            raise TypeError(f"metrics must be keyed by names (str); got {name!r}")
        _callable(f"metrics[{name!r}]", fn)
    return dict(metrics)


def _callable(name: str, fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be a function; got {type(fn).__name__}")


def _number(name: str, value: object) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must return a number; got {type(value).__name__}") from None
