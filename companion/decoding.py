"""Beam search with length normalisation over any step function, for a batch of sources.

A decoder is seen through one function, ``step(tokens, state) -> (log_probs, state)``:
tokens (N,) the ids fed, log_probs (N, V) = log p(y_t | y_<t, x) for each of the N rows,
the state a tensor or a tuple of tensors whose axis 1 is the row (time-major, as a GRU's
(1, N, H)). For B sources and width k the rows are N = B k, source b owning rows
b k .. b k + k - 1 (the caller repeats each source's memory k times, in that order).

A hypothesis y = y_1 .. y_n, ending in EOS or cut at ``max_len``, has the log-probability
log p(y | x) = sum_t log p(y_t | y_<t, x) over its n_y predictions (EOS included) and the
length-normalised score  s(y) = log p(y | x) / n_y^alpha : alpha = 0 is the plain
log-probability, which favours short outputs, alpha = 1 the mean per token; Wu et al. (2016,
GNMT) use ((5 + n_y) / 6)^alpha instead of n_y^alpha.

One step of the search, for each source: extend each of the k live hypotheses by every token
(k V candidates, scored by log-probability), take the best 2k; an EOS among the first k of
them finishes that hypothesis, and the best k that do not end live on. The search stops for
a source once it holds k finished hypotheses (as fairseq's), and for all at ``max_len``, where
the live ones are kept as cut. The answer is the finished hypothesis of highest s(y).
Width 1 is greedy decoding; a width no smaller than V^max_len keeps every sequence, so the
search is then exhaustive. This module imports torch and never matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from companion import checks

State = torch.Tensor | tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class Hypothesis:
    """One finished hypothesis: ``tokens`` y_1 .. y_n without EOS, ``log_prob`` log p(y | x)
    in nats (EOS's included when it ended), ``length`` n_y (predictions, EOS included),
    ``ended`` (False when cut at max_len) and ``score`` s(y)."""

    tokens: tuple[int, ...]
    log_prob: float
    length: int
    ended: bool
    score: float


def normalised(log_prob: float, length: int, alpha: float) -> float:
    """s(y) = log p(y | x) / n_y^alpha, n_y the number of predictions."""
    return log_prob / length**alpha


def beam_search(
    step: Callable[[torch.Tensor, State], tuple[torch.Tensor, State]],
    state: State,
    bos: int,
    eos: int,
    width: int,
    max_len: int,
    alpha: float = 0.0,
) -> list[list[Hypothesis]]:
    """Beam search of ``width`` k for each of the B sources whose start state is ``state``.

    Args:
        step: ``step(tokens (B k,), state) -> (log_probs (B k, V), state)``; see the module
            docstring.
        state: the decoder's start state for the B sources (axis 1 of size B); it is
            repeated k times per source here.
        bos, eos: the start id (fed first) and the end id.
        width: k >= 1.  max_len: the most predictions per hypothesis (>= 1).
        alpha: the length-normalisation exponent, >= 0.

    Returns:
        For each source, its finished hypotheses, best score s(y) first.

    Raises:
        TypeError, ValueError: a width or max_len that is not a positive integer, a negative
            alpha, a state without a batch axis, or ``step`` returning log-probabilities of
            the wrong shape.
    """
    k = checks.positive_int("width", width)
    max_len = checks.positive_int("max_len", max_len)
    alpha = checks.number("alpha", alpha, 0.0)
    parts = (state,) if isinstance(state, torch.Tensor) else tuple(state)
    if not parts or any(not isinstance(s, torch.Tensor) or s.dim() < 2 for s in parts):
        raise ValueError("state must be a tensor, or a tuple of them, with the batch on axis 1")
    B = parts[0].shape[1]
    state = _rows(state, torch.arange(B).repeat_interleave(k))  # (.., B k, ..)
    scores = torch.full((B, k), -torch.inf)
    scores[:, 0] = 0.0  # one live hypothesis, the empty one, per source
    history = torch.zeros(B, k, 0, dtype=torch.long)  # (B, k, t)
    last = torch.full((B * k,), bos, dtype=torch.long)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    for t in range(max_len):
        log_probs, state = step(last, state)
        if log_probs.dim() != 2 or log_probs.shape[0] != B * k:
            raise ValueError(
                f"step must return log-probabilities (B k, V) = ({B * k}, V); "
                f"got {tuple(log_probs.shape)}"
            )
        V = log_probs.shape[1]
        cand = (scores[:, :, None] + log_probs.view(B, k, V)).view(B, k * V)  # (B, k V)
        top, index = cand.topk(min(2 * k, k * V), dim=1)  # best first
        beam, token = index // V, index % V
        ends = (token == eos) & torch.isfinite(top)
        for b, j in ends[:, :k].nonzero().tolist():
            if len(finished[b]) < k:
                lp = float(top[b, j])
                seq = tuple(history[b, beam[b, j]].tolist())
                finished[b].append(Hypothesis(seq, lp, t + 1, True, normalised(lp, t + 1, alpha)))
        if all(len(f) >= k for f in finished):
            break
        # the first k candidates that do not end, best first (a stable sort keeps the order)
        pick = torch.sort(ends.to(torch.int8), dim=1, stable=True).indices[:, :k]  # (B, k)
        scores = torch.where(ends.gather(1, pick), -torch.inf, top.gather(1, pick))
        beam, token = beam.gather(1, pick), token.gather(1, pick)
        history = torch.cat([history.gather(1, beam[:, :, None].expand(-1, -1, t)),
                             token[:, :, None]], dim=2)  # fmt: skip
        state = _rows(state, (torch.arange(B)[:, None] * k + beam).view(-1))
        last = token.view(-1)
    else:  # max_len reached: the live hypotheses are kept, cut
        for b in range(B):
            for j in range(k):
                if len(finished[b]) < k and torch.isfinite(scores[b, j]):
                    lp = float(scores[b, j])
                    seq = tuple(history[b, j].tolist())
                    finished[b].append(
                        Hypothesis(seq, lp, max_len, False, normalised(lp, max_len, alpha))
                    )
    return [sorted(f, key=lambda h: -h.score) for f in finished]


def _rows(state: State, index: torch.Tensor) -> State:
    """The state's rows (axis 1) ``index``."""
    if isinstance(state, torch.Tensor):
        return state.index_select(1, index)
    return tuple(s.index_select(1, index) for s in state)
