"""A CTC recogniser in torch: a bidirectional GRU encoder, a per-frame readout over the
labels and the blank, the CTC loss, greedy decoding and the label error rate.

The model reads a padded batch of feature sequences and emits, at every frame, a distribution
over C classes (the blank, class 0, and the labels)::

    h_t        = [h_t^fwd ; h_t^rev]           BiGRU (companion.nn.Stacked of companion.nn.GRU)
    log y_t    = log_softmax(W h_t + b)        (T, B, C)
    loss       = -log p(l | x)                 CTC (Graves et al. 2006), torch.nn.functional
    prediction = B(argmax_k y_t(k), t = 1..T)  best path, collapsed (companion.ref.ctc)

No decoder and no alignment: the CTC loss sums over every alignment of the target to the
frames (the forward recursion of ``companion.ref.ctc``), and the reverse direction of the
encoder lets each frame's output see the whole utterance. With ``lengths`` the reverse
direction starts at each sequence's own last frame, as torch's packed sequences do, so the
padding never reaches a real frame.

The error measure is the label error rate (Graves et al. 2006, Section 2.1), the total edit
distance between the decoded and the true label sequences over the total length of the true
ones; the edit distance is ``rapidfuzz``'s Levenshtein distance. This module imports torch and
never matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from rapidfuzz.distance import Levenshtein
from torch import nn
from torch.nn import functional as F

from companion import checks
from companion.nn import GRU, Stacked
from companion.ref import ctc as ref_ctc

BLANK = ref_ctc.BLANK


class CTCRecognizer(nn.Module):
    """A bidirectional GRU encoder and a linear readout to log-probabilities per frame.

    Args:
        input_size: D, the features per frame.
        hidden_size: H of each direction (the readout reads 2H).
        num_classes: C, the labels plus the blank (class 0).
        num_layers: stacked BiGRU layers.

    ``forward(x, lengths) -> log_probs``: x (T, B, D) float, time-major, padded; lengths (B,)
    int64, the real frames of each sequence (1 .. T). Returns log_probs (T, B, C), a
    log-softmax over C at every frame (frames past a sequence's end are scored from zero
    encoder outputs and are never read by the loss or the decoder). This is the layout that
    ``torch.nn.functional.ctc_loss`` takes.

    Raises:
        TypeError: a size that is not an integer; an input that is not a tensor in the
            parameters' dtype, lengths that are not integers.
        ValueError: a size below 1, ``num_classes`` below 2; an input or lengths of the wrong
            shape, a length outside [1, T].
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_classes: int, num_layers: int = 1
    ) -> None:
        super().__init__()
        self.num_classes = checks.integer("num_classes", num_classes, minimum=2)
        self.encoder = Stacked(
            GRU, input_size, hidden_size, num_layers=num_layers, bidirectional=True
        )
        self.readout = nn.Linear(2 * self.encoder.hidden_size, self.num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h, _ = self.encoder(x, lengths=lengths)  # (T, B, 2H)
        return F.log_softmax(self.readout(h), dim=-1)  # (T, B, C)


def ctc_loss(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    blank: int = BLANK,
    reduction: str = "mean",
) -> torch.Tensor:
    """``torch.nn.functional.ctc_loss`` with the arguments in the order of the task's batches.

    log_probs (T, B, C) log-softmax outputs; targets (B, Lmax) int64 padded; input_lengths and
    target_lengths (B,) int64. 'mean' divides each sequence's -log p(l | x) by its target
    length, then averages over the batch. ``zero_infinity=False``: a target that its frames
    cannot hold gives inf, visibly (``companion.ref.ctc.loss`` raises ``ValueError`` there).
    """
    return F.ctc_loss(
        log_probs,
        targets,
        input_lengths,
        target_lengths,
        blank=blank,
        reduction=reduction,
        zero_infinity=False,
    )


def greedy_decode(
    log_probs: torch.Tensor, lengths: torch.Tensor | np.ndarray, blank: int = BLANK
) -> list[list[int]]:
    """Best-path decoding of a batch, (T, B, C) -> B lists of labels: the argmax class of
    each frame within each sequence's length, collapsed (``companion.ref.ctc.greedy_decode``,
    one home for the collapse rule)."""
    if not isinstance(log_probs, torch.Tensor):
        raise TypeError(f"log_probs must be a torch.Tensor (T, B, C); got {type(log_probs)}")
    lengths = lengths.detach().cpu().numpy() if isinstance(lengths, torch.Tensor) else lengths
    return ref_ctc.greedy_decode(log_probs.detach().cpu().numpy(), lengths, blank)


def label_error_rate(
    hypotheses: Sequence[Sequence[int]], references: Sequence[Sequence[int]]
) -> float:
    """Total edit distance over total reference length::

        LER = sum_n edit(h_n, r_n) / sum_n |r_n|

    the edit distance being the fewest insertions, deletions and substitutions
    (``rapidfuzz.distance.Levenshtein``). 0 is perfect; it can exceed 1 (many insertions).

    Raises:
        TypeError: arguments that are not sequences of label sequences.
        ValueError: different numbers of hypotheses and references, or references with no
            label at all (the rate is undefined).
    """
    hyps, refs = _label_lists("hypotheses", hypotheses), _label_lists("references", references)
    if len(hyps) != len(refs):
        raise ValueError(f"hypotheses and references must pair up; got {len(hyps)} and {len(refs)}")
    total = sum(len(r) for r in refs)
    if total == 0:
        raise ValueError("the references hold no label; the label error rate is undefined")
    return sum(Levenshtein.distance(h, r) for h, r in zip(hyps, refs, strict=True)) / total


def _label_lists(name: str, seqs: object) -> list[list[int]]:
    if isinstance(seqs, str | bytes) or not isinstance(seqs, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a list of label sequences; got {type(seqs).__name__}")
    out = []
    for n, s in enumerate(seqs):
        arr = np.asarray(s)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(
                f"{name}[{n}] must be a sequence of integer labels; got {type(s).__name__} "
                f"with dtype {arr.dtype} and shape {arr.shape}"
            )
        out.append([int(k) for k in arr])
    return out
