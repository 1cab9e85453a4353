"""Truncated backpropagation through time (truncated BPTT), for numpy and torch models.

A sequence of length T is cut into windows of at most k steps. The forward pass runs through
every window in turn and carries the state across the boundaries, so the hidden states are
exactly those of one run over the whole sequence. The backward pass stops at each window's
start: the gradient reaching the state that entered the window is thrown away.

With the loss L = sum_t L_t and the direct gradients dh_seq[t] = dL_t/dh_t, full BPTT sums
every path from a loss term back to a use of the weights::

    dL/dW = sum_t sum_{s <= t} dL_t/dh_t  (dh_t/dh_s)  d+h_s/dW
    dh_t/dh_s = prod_{j=s+1}^{t} diag(phi'(a_j)) W_hh          (identity when s = t)

where d+h_s/dW is the immediate derivative of h_s = phi(a_s) with h_{s-1} held fixed.
Truncated BPTT keeps only the terms with s in the window of t (s >= start(t)); it drops::

    sum_t sum_{s < start(t)} dL_t/dh_t  (dh_t/dh_s)  d+h_s/dW

the terms that flow across a window boundary. Dependencies longer than k steps never reach
the gradient, and shorter ones are seen only from positions late enough in their window.

``window_slices`` gives the fixed windows, ``random_window_slices`` windows of random length,
``rnn_truncated_grads`` the truncated gradient of the numpy Elman RNN (``companion.ref.rnn``),
and ``detach`` with ``run_windows`` the driver that trains any model (torch or numpy) this way;
``companion.train.train(..., window=k, carry_state=True)`` drives a torch model the same way,
with Adam, clipping, validation and a ``History``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from companion import checks
from companion.ref import rnn

DISTRIBUTIONS = ("geometric", "uniform", "offset")


def window_slices(T: int, k: int) -> list[slice]:
    """Consecutive windows of length ``k`` covering steps 0..T-1; the last may be shorter.

    ``window_slices(7, 3)`` is ``[slice(0, 3), slice(3, 6), slice(6, 7)]``.
    """
    T, k = checks.positive_int("T", T), checks.positive_int("k", k)
    return [slice(s, min(s + k, T)) for s in range(0, T, k)]


def random_window_slices(
    T: int, k: int, rng: np.random.Generator, dist: str = "geometric"
) -> list[slice]:
    """Consecutive windows covering steps 0..T-1 whose lengths are random, with mean about k.

    - ``"geometric"``: lengths i.i.d. Geometric(1/k) on {1, 2, ...}, mean k. Equivalently, a
      cut falls after each step with probability 1/k, independently of where the last one fell.
    - ``"uniform"``: lengths i.i.d. uniform on {1, ..., 2k - 1}, mean k.
    - ``"offset"``: the first window has a length uniform on {1, ..., k}, the others length k:
      the fixed grid, shifted by a random phase.

    What this fixes. With fixed windows the cuts sit at the same steps on every pass, so the
    pair (input at s, loss at t) is always seen or never seen depending on where s and t fall
    in the grid, and a dependency of k steps or more is never seen. With random cuts a pair is
    seen with the probability that no cut falls between s and t, which depends on the distance
    d = t - s rather than on where the pair sits: (1 - 1/k)^d for ``"geometric"``, 1 - d/k
    (0 from d = k on) for ``"offset"``, and about the same for every position away from the
    sequence start for ``"uniform"``. No position is systematically cut off, and with the
    geometric and uniform lengths dependencies of k steps or more are sometimes kept.

    What it does not fix. The estimate stays biased: in expectation the term for distance
    t - s is multiplied by that probability, less than 1 and shrinking with the distance, so
    the expected gradient still favours short dependencies. Tallec and Ollivier (2017,
    "Unbiasing truncated backpropagation through time", arXiv:1705.08209) remove the bias with
    variable truncation lengths *together with* compensation factors in the backpropagation
    equation (ARTBP); randomising the lengths alone, as here, only varies the horizon.
    """
    T, k = checks.positive_int("T", T), checks.positive_int("k", k)
    checks.generator(rng)
    checks.one_of("dist", dist, DISTRIBUTIONS)
    windows, s = [], 0
    while s < T:
        if dist == "geometric":
            n = int(rng.geometric(1.0 / k))
        elif dist == "uniform":
            n = int(rng.integers(1, 2 * k))
        else:  # offset: a random first length, then the fixed grid
            n = int(rng.integers(1, k + 1)) if s == 0 else k
        windows.append(slice(s, min(s + n, T)))
        s += n
    return windows


def rnn_truncated_grads(
    x: np.ndarray,
    h0: np.ndarray | None,
    params: dict[str, np.ndarray],
    dh_seq: np.ndarray,
    k: int,
    nonlinearity: str = "tanh",
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Truncated-BPTT gradient of the numpy Elman RNN, with windows of ``k`` steps.

    For each window w = [s, e) in turn::

        h_seq[w], h_e = forward(x[w], h_s, params)          h_s carried from the last window
        grads += backward(dh_seq[w], 0, cache)              its dh_s is discarded

    so the forward values are those of the full run, and ``grads`` is the full BPTT gradient
    minus the terms that cross a window boundary (see the module docstring). With k >= T
    there is one window and the result is exactly ``companion.ref.rnn.backward``'s.

    Args:
        x: inputs, shape (T, B, D).
        h0: initial state, shape (B, H), or None for zeros.
        params: ``W_ih`` (H, D), ``W_hh`` (H, H), ``b_ih`` (H,), ``b_hh`` (H,).
        dh_seq: dL/dh_t from the loss at each step t (not through h_{t+1}), shape (T, B, H).
        k: window length, >= 1.
        nonlinearity: 'tanh' (default) or 'relu'.

    Returns:
        ``(grads, h_T)``: a dict keyed like ``params``, and the final state (B, H).
    """
    T, B, D = checks.sequence(x)
    H = checks.params(params, rnn.G, D, rnn.FAMILY)
    dh_seq = checks.float_array("dh_seq", dh_seq)
    if dh_seq.shape != (T, B, H):
        raise ValueError(f"dh_seq must have shape (T, B, H) = {(T, B, H)}; got {dh_seq.shape}")
    k = checks.positive_int("k", k)
    grads = {name: np.zeros_like(p) for name, p in params.items()}
    h = h0
    for w in window_slices(T, k):
        _, h, cache = rnn.forward(x[w], h, params, nonlinearity)  # state carried forward
        _, _, g = rnn.backward(dh_seq[w], None, cache)  # dh at the window start: dropped
        for name in grads:
            grads[name] += g[name]
    return grads, h


def detach(state: Any) -> Any:
    """Cut the gradient history of a recurrent state, keeping its values.

    A torch tensor gives ``state.detach()`` (same values, no graph behind it); a numpy array
    gives a copy (numpy keeps no graph; the copy keeps the next window from writing into the
    last one's arrays); a tuple or list of these, such as an LSTM's ``(h, c)``, gives the
    same container of detached entries. Anything else raises TypeError.
    """
    if isinstance(state, np.ndarray):
        return state.copy()
    if isinstance(state, tuple | list):
        return type(state)(detach(s) for s in state)
    torch = sys.modules.get("torch")  # a torch tensor can only exist if torch is imported
    if torch is not None and isinstance(state, torch.Tensor):
        return state.detach()
    raise TypeError(
        "state must be a torch tensor, a numpy array, or a tuple/list of them; "
        f"got {type(state).__name__}"
    )


def run_windows(
    step: Callable[[Any, Any, Any], tuple[Any, Any]],
    x: Any,
    targets: Any,
    k: int | list[slice],
    state0: Any,
) -> tuple[list[float], Any]:
    """Drive truncated BPTT over one sequence: one call of ``step`` per window.

    For each window w (``window_slices(T, k)``, or the slices given as ``k``)::

        loss_w, state = step(x[w], targets[w], state)
        state = detach(state)                     the next window starts from these values,
                                                  but no gradient flows back into this one

    ``step`` does the work of one window: for a torch model, the forward pass, ``backward``
    and the optimizer step; for a numpy model, the forward and backward passes and the update.
    ``x`` and ``targets`` are time-major (numpy arrays or torch tensors with T on axis 0);
    ``targets`` may be None (then ``step`` gets None). ``state0`` is passed unchanged to the
    first window (it may be None, as torch modules accept).

    Returns the list of the windows' losses (as floats) and the last, detached, state.
    """
    if not callable(step):
        raise TypeError(f"step must be a function step(x_w, targets_w, state); got {type(step)}")
    if not hasattr(x, "shape") or len(x.shape) < 1:
        raise TypeError(f"x must be a time-major array or tensor; got {type(x).__name__}")
    T = int(x.shape[0])
    if targets is not None:
        if not hasattr(targets, "shape") or len(targets.shape) < 1:
            raise TypeError(f"targets must be an array, a tensor or None; got {type(targets)}")
        if int(targets.shape[0]) != T:
            raise ValueError(
                f"targets must have the length of x on axis 0 (T = {T}); "
                f"got shape {tuple(targets.shape)}"
            )
    windows = window_slices(T, k) if not isinstance(k, list) else k
    _check_cover(windows, T)
    losses, state = [], state0
    for w in windows:
        loss, state = step(x[w], None if targets is None else targets[w], state)
        losses.append(float(loss.item() if hasattr(loss, "item") else loss))
        state = detach(state)
    return losses, state


def _check_cover(windows: list[slice], T: int) -> None:
    """Require consecutive slices that cover 0..T-1 exactly once."""
    s = 0
    for w in windows:
        if not isinstance(w, slice) or w.start != s or w.stop is None or w.stop <= s:
            raise ValueError(
                f"windows must be consecutive slices covering 0..{T - 1}; "
                f"got {w!r} where a slice starting at {s} was expected"
            )
        s = w.stop
    if s != T:
        raise ValueError(f"windows must cover 0..{T - 1}; they end at {s - 1}")
