"""The sequence model of the book: a recurrent encoder and a linear readout.

The encoder is ``torch.nn.RNN``, ``GRU`` or ``LSTM`` chosen by name (one layer, time-major,
``batch_first=False``), or any module with torch's sequence calling convention,
``encoder(x) -> (h_seq, state)`` (``companion.nn``'s cells, variants and ``Stacked``); a
linear readout maps its hidden states to outputs::

    h_1..h_T = encoder(x_1..x_T)              x (T, B, D) -> h_seq (T, B, H)
    out      = W_hq h_T + b_q                 readout "last": (B, Q)
    out_t    = W_hq h_t + b_q for every t     readout "all":  (T, B, Q)

The same class serves the plain RNN of chapter 3, the gated cells of chapters 4 and 5 and the
variants of chapter 6, so that a comparison changes one argument. This module imports torch
and never matplotlib.
"""

from __future__ import annotations

import torch
from torch import nn

from companion import checks, families, init

READOUTS = ("last", "all")


class SequenceModel(nn.Module):
    """A recurrent encoder and a linear readout ``readout`` (``nn.Linear``, width -> Q).

    Args:
        input_size: D, features per step.
        hidden_size: H, units in the hidden state (per direction).
        output_size: Q, outputs per readout step (1 for the adding problem, the number of
            classes for a classification).
        cell: 'rnn' (Elman), 'gru' or 'lstm', for a one-layer ``torch.nn`` module built
            here; or a module built by the caller, whose ``input_size`` and ``hidden_size``
            must be D and H (a bidirectional one gives the readout 2H features).
        nonlinearity: 'tanh' or 'relu', for ``cell='rnn'`` only.
        readout: the readout kind, kept as ``readout_kind``: 'last' reads h_T only, output
            (B, Q); 'all' reads every h_t, output (T, B, Q).

    Raises ValueError for an unknown cell, readout or nonlinearity, non-positive sizes, or a
    module whose sizes are not D and H; TypeError for a ``cell`` that is neither a name nor a
    module. Attributes ``encoder`` and ``readout`` are public, so that ``companion.init`` and
    ``companion.probe`` can reach the recurrent weights.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        cell: str | nn.Module = "rnn",
        nonlinearity: str = "tanh",
        readout: str = "last",
    ) -> None:
        super().__init__()
        D = checks.positive_int("input_size", input_size)
        H = checks.positive_int("hidden_size", hidden_size)
        Q = checks.positive_int("output_size", output_size)
        self.readout_kind = checks.one_of("readout", readout, READOUTS)
        self.encoder = _encoder(cell, D, H, nonlinearity)
        bidirectional = getattr(self.encoder, "bidirectional", False)
        dtype = next(self.encoder.parameters()).dtype
        self.readout = nn.Linear(H * (2 if bidirectional else 1), Q, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` (T, B, D) to (B, Q) for readout 'last', or (T, B, Q) for 'all'."""
        h_seq, _ = self.encoder(_check_input(x, self.encoder.input_size))  # (T, B, H)
        if self.readout_kind == "last":
            return self.readout(h_seq[-1])  # (B, Q)
        return self.readout(h_seq)  # (T, B, Q)

    @classmethod
    def for_task(
        cls, task, cell: str | nn.Module, hidden_size: int, memory_bias: float | None = None
    ) -> SequenceModel:
        """A model sized for ``task`` (a ``companion.tasks.Task``: its D, Q and readout kind).

        ``memory_bias``, if given, is the initial bias of the gate that keeps the state (the
        LSTM's f, the GRU's z), set by ``companion.init.set_memory_bias_``.
        """
        model = cls(task.input_size, hidden_size, task.output_size, cell, readout=task.readout)
        return model if memory_bias is None else init.set_memory_bias_(model, memory_bias)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _encoder(cell: object, D: int, H: int, nonlinearity: str) -> nn.Module:
    """The encoder: built from a family name, or the caller's module with its sizes checked."""
    checks.one_of("nonlinearity", nonlinearity, ("tanh", "relu"))
    if not isinstance(cell, str | nn.Module):
        raise TypeError(f"cell must be a family name or a module; got {type(cell).__name__}")
    if cell != "rnn" and nonlinearity != "tanh":
        raise ValueError(f"nonlinearity applies to cell='rnn' only; got cell={cell!r}")
    if isinstance(cell, str):
        family = families.get(checks.one_of("cell", cell, tuple(families.FAMILIES)))
        kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        return family.torch_class()(D, H, batch_first=False, **kwargs)
    got = (getattr(cell, "input_size", None), getattr(cell, "hidden_size", None))
    if got != (D, H):
        raise ValueError(
            f"the encoder {type(cell).__name__} must have (input_size, hidden_size) = "
            f"(D, H) = ({D}, {H}); got {got}"
        )
    if getattr(cell, "batch_first", False):
        raise ValueError(
            f"the encoder {type(cell).__name__} has batch_first=True; SequenceModel is "
            f"time-major, x (T, B, D): build the encoder with batch_first=False"
        )
    return cell


def _check_input(x: object, D: int) -> torch.Tensor:
    """``x`` if it is a tensor of shape (T, B, D) with T, B >= 1."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (T, B, D); got {type(x).__name__}")
    if x.dim() != 3 or x.shape[-1] != D or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must have shape (T, B, D={D}) with T, B >= 1; got {tuple(x.shape)}")
    return x
