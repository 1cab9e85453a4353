"""Small torch sequence models for the long-range tasks: a recurrent encoder and a readout.

The encoder is ``torch.nn.RNN``, ``GRU`` or ``LSTM`` chosen by name, one layer, time-major
(``batch_first=False``); a linear readout maps hidden states to outputs::

    h_1..h_T = cell(x_1..x_T)                 x (T, B, D) -> h_seq (T, B, H)
    out      = W_hq h_T + b_q                 readout="last": (B, Q)
    out_t    = W_hq h_t + b_q for every t     readout="all":  (T, B, Q)

The same class serves the plain RNN of chapter 3 and the gated cells of chapters 4 and 5, so
that a comparison changes one argument. This module imports torch and never matplotlib.
"""

from __future__ import annotations

import torch
from torch import nn

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
READOUTS = ("last", "all")


class SequenceModel(nn.Module):
    """A one-layer recurrent encoder (``cell`` = 'rnn', 'gru' or 'lstm') and a linear readout.

    Args:
        input_size: D, features per step.
        hidden_size: H, units in the hidden state.
        output_size: Q, outputs per readout step (1 for the adding problem, the number of
            classes for a classification).
        cell: 'rnn' (Elman), 'gru' or 'lstm'.
        nonlinearity: 'tanh' or 'relu', for ``cell='rnn'`` only.
        readout: 'last' reads h_T only, output (B, Q); 'all' reads every h_t, output (T, B, Q).

    Attributes ``encoder`` (the torch recurrent module) and ``readout`` (``nn.Linear``) are
    public, so that ``companion.init`` and ``companion.probe`` can reach the recurrent weights.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        cell: str = "rnn",
        nonlinearity: str = "tanh",
        readout: str = "last",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {tuple(CELLS)}; got {cell!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}; got {readout!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
        if cell != "rnn" and nonlinearity != "tanh":
            raise ValueError(f"nonlinearity applies to cell='rnn' only; got cell={cell!r}")
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer; got {v!r}")
        if not isinstance(output_size, int) or output_size < 1:
            raise ValueError(f"output_size must be a positive integer; got {output_size!r}")
        kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.cell = cell
        self.mode = readout
        self.encoder = CELLS[cell](input_size, hidden_size, batch_first=False, **kwargs)
        self.readout = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` (T, B, D) to (B, Q) for readout 'last', or (T, B, Q) for 'all'."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (T, B, D); got {type(x).__name__}")
        D = self.encoder.input_size
        if x.dim() != 3 or x.shape[-1] != D:
            raise ValueError(f"x must have shape (T, B, D={D}); got {tuple(x.shape)}")
        h_seq, _ = self.encoder(x)  # (T, B, H)
        if self.mode == "last":
            return self.readout(h_seq[-1])  # (B, Q)
        return self.readout(h_seq)  # (T, B, Q)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
