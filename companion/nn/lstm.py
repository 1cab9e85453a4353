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
hand-written one is ``companion.ref.lstm``.

The point is to see inside (``return_gates=True``) and to change the cell: a variant
subclasses ``LSTM`` (or ``LSTMCell``) and overrides one of ``gates``, ``cell_update`` or
``output``, the three lines of the equations. It is slower than ``torch.nn.LSTM``, which
runs a fused kernel; train with torch's and load the weights here to inspect.
This module imports torch and never matplotlib.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from companion.nn import _base

GATES = ("i", "f", "g", "o")


class LSTMBase(nn.Module):
    """The LSTM's parameters and one step; ``LSTMCell`` and ``LSTM`` add the calling convention.

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

    A subclass that adds parameters creates and initialises them after ``super().__init__``;
    ``num_blocks`` sets the number of stacked blocks.
    """

    num_blocks: int = 4
    _suffix: str = ""  # "_l0" for the sequence layer, as torch.nn.LSTM names its weights

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        forget_bias: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _base.check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.forget_bias = float(forget_bias)
        _base.register_parameters(self, device, dtype)
        self.reset_parameters()

    # The four parameters under the names of the equations, whatever torch calls them.
    W_ih, W_hh, b_ih, b_hh = _base.PARAMETERS

    def reset_parameters(self) -> None:
        """torch's draw, uniform on (-1/sqrt(H), 1/sqrt(H)); then b_ih[H:2H] += forget_bias."""
        _base.reset_uniform(self, self.forget_bias)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, forget_bias={self.forget_bias}"

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

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """W_ih x + b_ih for inputs of shape (..., D): (..., 4H). Done once for a sequence."""
        return F.linear(x, self.W_ih, self.b_ih)

    def recurrence(
        self, ax_t: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """One step from the projected input ``ax_t`` (B, 4H): returns (h_t, c_t, gates)."""
        a = ax_t + F.linear(h_prev, self.W_hh, self.b_hh)  # a_t, (B, 4H)
        gates = self.gates(a, c_prev)
        c = self.cell_update(gates, c_prev)
        return self.output(gates, c), c, gates

    _check_input = _base.check_input

    def _check_state(self, state: object, shape: tuple[int, ...], x: torch.Tensor) -> tuple:
        if state is None:
            zeros = x.new_zeros(shape)
            return zeros, zeros
        if isinstance(state, torch.Tensor):
            raise TypeError(
                f"state must be a pair (h, c) of tensors of shape {shape}; "
                f"got a single tensor of shape {tuple(state.shape)}"
            )
        if not isinstance(state, tuple | list) or len(state) != 2:
            raise TypeError(f"state must be a pair (h, c) of tensors of shape {shape}")
        for name, s in zip("hc", state, strict=True):
            if not isinstance(s, torch.Tensor):
                raise TypeError(f"state {name} must be a torch.Tensor; got {type(s).__name__}")
            if tuple(s.shape) != shape:
                raise ValueError(f"state {name} must have shape {shape}; got {tuple(s.shape)}")
        return tuple(state)


class LSTMCell(LSTMBase):
    """One LSTM step, as ``torch.nn.LSTMCell`` (parameters ``weight_ih``, ``weight_hh``,
    ``bias_ih``, ``bias_hh``).

    ``forward(x_t, state=None) -> (h, c)``: ``x_t`` (B, D); ``state`` the pair (h_prev,
    c_prev), each (B, H), or None for zeros; returns h_t and c_t, each (B, H).
    """

    def forward(
        self, x_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x_t = self._check_input(x_t, 2, "(B, D)")
        h_prev, c_prev = self._check_state(state, (x_t.shape[0], self.hidden_size), x_t)
        h, c, _ = self.recurrence(self.input_projection(x_t), h_prev, c_prev)
        return h, c


class LSTM(LSTMBase):
    """A one-layer, time-major LSTM, as ``torch.nn.LSTM(D, H)`` (parameters ``weight_ih_l0``,
    ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``).

    ``forward(x, state=None, return_gates=False)``:
        x: (T, B, D).  state: the pair (h0, c0), each (1, B, H) as torch.nn.LSTM takes it
        (the leading axis is the layer), or None for zeros.
        Returns ``(h_seq, (h_T, c_T))``: (T, B, H) and each (1, B, H), exactly torch's
        shapes. With ``return_gates=True`` a third value, a dict of (T, B, H) tensors
        ``i``, ``f``, ``g``, ``o`` and ``c`` (the cell states c_1..c_T); they stay in the
        autograd graph, so ``.detach()`` them to plot.
    """

    _suffix = "_l0"

    def forward(
        self,
        x: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
        return_gates: bool = False,
    ):
        x = self._check_input(x, 3, "(T, B, D), time-major")
        B = x.shape[1]
        h, c = self._check_state(state, (1, B, self.hidden_size), x)
        h, c = h[0], c[0]  # (B, H)
        ax = self.input_projection(x)  # W_ih x_t + b_ih for every t at once, (T, B, 4H)
        h_seq, c_seq, gate_seq = [], [], []
        # unbind, not ax[t]: backward through indexing builds a full-size zero for every step
        for ax_t in ax.unbind(0):
            h, c, gates = self.recurrence(ax_t, h, c)
            h_seq.append(h)
            if return_gates:
                c_seq.append(c)
                gate_seq.append(gates)
        return self._outputs(h_seq, h, c, c_seq, gate_seq, return_gates)

    @staticmethod
    def _outputs(h_seq, h, c, c_seq, gate_seq, return_gates: bool):
        """``(h_seq (T, B, H), (h_T, c_T) each (1, B, H))``, plus the stacked gates if asked."""
        out = torch.stack(h_seq), (h[None], c[None])
        if not return_gates:
            return out
        gates = {k: torch.stack([g[k] for g in gate_seq]) for k in gate_seq[0]}
        gates["c"] = torch.stack(c_seq)
        return (*out, gates)
