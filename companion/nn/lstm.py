"""The LSTM as a torch module written from its equations, one Python step per time step.

Equations (torch's gate order i, f, g, o; ``W_ih`` (4H, D), ``W_hh`` (4H, H), biases (4H,))::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh         split into a_i, a_f, a_g, a_o
    i_t, f_t, o_t = sigma(a_i), sigma(a_f), sigma(a_o);   g_t = tanh(a_g)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

``LSTM`` is a one-layer, time-major ``torch.nn.LSTM``: its parameters are named and shaped as
torch's (``weight_ih_l0`` ...), so ``LSTM(D, H).load_state_dict(torch.nn.LSTM(D, H)
.state_dict())`` works, and the outputs and gradients then agree. ``LSTMCell`` is
``torch.nn.LSTMCell`` likewise (``weight_ih`` ...). Autograd does the backward pass; the
hand-written one is ``companion.ref.lstm``. Parameters, reset, checks and the time loop are
``companion.nn.base.RecurrentBase``'s; this module writes the step.

The point is to see inside (``return_gates=True``) and to change the cell: a variant
subclasses ``LSTM`` (or ``LSTMCell``) and overrides one of ``gates``, ``cell_update`` or
``output``, the three lines of the equations. It is slower than ``torch.nn.LSTM``, which
runs a fused kernel; train with torch's and load the weights here to inspect.
This module imports torch and never matplotlib.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from companion import families
from companion.nn.base import RecurrentBase, State

GATES = families.get("lstm").blocks  # i, f, g, o


class LSTMBase(RecurrentBase):
    """The LSTM's step; ``LSTMCell`` and ``LSTM`` are its two calling conventions.

    Args:
        input_size: the input size D.
        hidden_size: the hidden size H.
        forget_bias: added to the f block of ``b_ih`` after torch's uniform draw on
            (-1/sqrt(H), 1/sqrt(H)); 1.0 is the initialisation of Jozefowicz et al. (2015).
        device: as for any torch module (default: the CPU).
        dtype: as for any torch module (default: float32).

    Hooks for variants, each taking and returning (B, H) tensors (the gate dict has the keys
    i, f, g, o):

    - ``gates(a, c_prev) -> dict``: the gate values from the stacked pre-activation;
    - ``cell_update(gates, c_prev) -> c``: the new cell state;
    - ``output(gates, c) -> h``: the new hidden state.

    A variant with more parameters extends ``parameter_shapes``; one that carries more state
    extends ``initial_carry`` and ``step`` (``companion.nn.base``).
    """

    blocks = GATES
    state_names = ("h", "c")
    bias_block, bias_name = "f", "forget_bias"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        forget_bias: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, forget_bias, device, dtype)

    def step(self, ax_t: torch.Tensor, state: State) -> tuple[State, dict[str, torch.Tensor]]:
        """One step from the projected input ``ax_t`` (B, 4H): ((h_t, c_t), gates)."""
        h_prev, c_prev = state
        a = ax_t + F.linear(h_prev, self.W_hh, self.b_hh)  # a_t, (B, 4H)
        gates = self.gates(a, c_prev)
        c = self.cell_update(gates, c_prev)
        return (self.output(gates, c), c), gates

    def gates(self, a: torch.Tensor, c_prev: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gate values from the stacked pre-activation ``a`` (B, 4H); ``c_prev`` is unused
        here (a peephole variant reads it)."""
        a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
        return {
            "i": torch.sigmoid(a_i),  # input gate
            "f": torch.sigmoid(a_f),  # forget gate
            "g": torch.tanh(a_g),  # candidate
            "o": torch.sigmoid(a_o),  # output gate
        }

    def cell_update(self, gates: dict[str, torch.Tensor], c_prev: torch.Tensor) -> torch.Tensor:
        """c_t = f * c_{t-1} + i * g."""
        return gates["f"] * c_prev + gates["i"] * gates["g"]

    def output(self, gates: dict[str, torch.Tensor], c: torch.Tensor) -> torch.Tensor:
        """h_t = o * tanh(c_t)."""
        return gates["o"] * torch.tanh(c)


class LSTMCell(LSTMBase):
    """One LSTM step, as ``torch.nn.LSTMCell`` (parameters ``weight_ih``, ``weight_hh``,
    ``bias_ih``, ``bias_hh``).

    ``forward(x_t, state=None) -> (h, c)``: ``x_t`` (B, D); ``state`` the pair (h_prev,
    c_prev), each (B, H), or None for zeros; returns h_t and c_t, each (B, H).
    """

    is_cell = True


class LSTM(LSTMBase):
    """A one-layer, time-major LSTM, as ``torch.nn.LSTM(D, H)`` (parameters ``weight_ih_l0``,
    ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``).

    ``forward(x, state=None, return_gates=False)``:
        x: (T, B, D), T >= 1.  state: the pair (h0, c0), each (1, B, H) as torch.nn.LSTM
        takes it (the leading axis is the layer), or None for zeros.
        Returns ``(h_seq, (h_T, c_T))``: (T, B, H) and each (1, B, H), exactly torch's
        shapes. With ``return_gates=True`` a third value, a dict of (T, B, H) tensors
        ``i``, ``f``, ``g``, ``o`` and ``c`` (the cell states c_1..c_T); they stay in the
        autograd graph, so ``.detach()`` them to plot.

    The weights of a ``torch.nn.LSTM`` with ``proj_size > 0`` are refused (ValueError).
    """
