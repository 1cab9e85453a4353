"""The LSTM variants of Greff et al. (2017), "LSTM: A Search Space Odyssey", as small subclasses.

Each variant changes one line of the chapter 4 equations (torch's gate order i, f, g, o)::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh       split into a_i, a_f, a_g, a_o
    i_t, f_t, o_t = sigma(a_i), sigma(a_f), sigma(a_o);   g_t = tanh(a_g)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

==========  ===================================  ==============================================
name        class                                change
==========  ===================================  ==============================================
NP          ``companion.nn.LSTM``                none: torch's LSTM, which has no peepholes
V           ``PeepholeLSTM``                     i, f read p * c_{t-1}, o reads p * c_t
NIG         ``NoInputGateLSTM``                  i_t = 1
NFG         ``NoForgetGateLSTM``                 f_t = 1 (the LSTM of 1997)
NOG         ``NoOutputGateLSTM``                 o_t = 1
NIAF        ``NoInputActivationLSTM``            g_t = a_g (no tanh)
NOAF        ``NoOutputActivationLSTM``           h_t = o_t * c_t (no tanh)
CIFG        ``CoupledGateLSTM``                  i_t = 1 - f_t
FGR         ``FullGateRecurrenceLSTM``           i, f, o also read i, f, o of step t - 1
==========  ===================================  ==============================================

Greff et al.'s "vanilla" LSTM has peepholes, so their V is ``PeepholeLSTM`` and their NP is
chapter 4's LSTM; every other variant here changes chapter 4's LSTM (no peepholes). A variant
keeps the parameters of the LSTM, named as torch's (``weight_ih_l0`` ...), so it loads a
``torch.nn.LSTM`` ``state_dict``; blocks that a variant does not use (the i block of NIG and
CIFG, ...) stay in the tensors and get zero gradient. The peephole and gate-recurrence weights
are extra parameters (``weight_peephole_l0``, ``weight_gate_l0``, drawn after the four of the
LSTM): load torch's weights with ``strict=False``. ``VARIANTS`` maps each name to its class.
This module imports torch and never matplotlib.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from companion import checks
from companion.nn.base import State
from companion.nn.lstm import LSTM


class PeepholeLSTM(LSTM):
    """The LSTM with peephole connections (Gers and Schmidhuber 2000): Greff et al.'s vanilla.

    The gates also see the cell state, through diagonal weights p_i, p_f, p_o (H,) each::

        i_t = sigma(a_i + p_i * c_{t-1}),  f_t = sigma(a_f + p_f * c_{t-1})
        o_t = sigma(a_o + p_o * c_t)          (the output gate sees the new cell)

    Reason: the gates of an LSTM see c only through h = o * tanh(c), which is 0 when the output
    gate is closed; peepholes let them time events from the cell itself. Parameter
    ``weight_peephole_l0`` (3H,), blocks p_i, p_f, p_o, drawn like the other weights; at zero
    the cell is chapter 4's LSTM.
    """

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {**super().parameter_shapes(), "weight_peephole": (3 * self.hidden_size,)}

    def step(self, ax_t: torch.Tensor, state: State) -> tuple[State, dict[str, torch.Tensor]]:
        """The LSTM's step with o_t computed after c_t, which it reads."""
        h_prev, c_prev = state
        a = ax_t + F.linear(h_prev, self.W_hh, self.b_hh)  # (B, 4H)
        gates = self.gates(a, c_prev)
        c = self.cell_update(gates, c_prev)
        p_o = self.weight_peephole_l0.chunk(3)[2]
        gates["o"] = torch.sigmoid(a.chunk(4, dim=-1)[3] + p_o * c)  # output gate
        return (self.output(gates, c), c), gates

    def gates(self, a: torch.Tensor, c_prev: torch.Tensor) -> dict[str, torch.Tensor]:
        """i and f with peepholes on c_{t-1}, and g; ``step`` adds o once c_t is known."""
        a_i, a_f, a_g, _ = a.chunk(4, dim=-1)
        p_i, p_f, _ = self.weight_peephole_l0.chunk(3)
        return {
            "i": torch.sigmoid(a_i + p_i * c_prev),
            "f": torch.sigmoid(a_f + p_f * c_prev),
            "g": torch.tanh(a_g),
        }


class NoGateLSTM(LSTM):
    """The LSTM with the gate named ``removed`` held at 1 (NIG, NFG and NOG set it)."""

    removed: str = "i"

    def gates(self, a: torch.Tensor, c_prev: torch.Tensor) -> dict[str, torch.Tensor]:
        gates = super().gates(a, c_prev)
        gates[self.removed] = torch.ones_like(gates[self.removed])
        return gates


class NoInputGateLSTM(NoGateLSTM):
    """NIG, no input gate: i_t = 1, so c_t = f_t * c_{t-1} + g_t.

    Reason: an ablation; the candidate is written in full at every step, and only the forget
    gate controls how much of the old content is kept.
    """

    removed = "i"


class NoForgetGateLSTM(NoGateLSTM):
    """NFG, no forget gate: f_t = 1, so c_t = c_{t-1} + i_t * g_t (the LSTM of 1997).

    Reason: the original LSTM of Hochreiter and Schmidhuber (1997), whose constant error
    carousel passes the gradient unchanged; Gers et al. (2000) added the forget gate because
    its cell state grows without bound on a continual stream.
    """

    removed = "f"


class NoOutputGateLSTM(NoGateLSTM):
    """NOG, no output gate: o_t = 1, so h_t = tanh(c_t).

    Reason: an ablation; the cell shows its whole content at every step.
    """

    removed = "o"


class NoInputActivationLSTM(LSTM):
    """NIAF, no input activation: g_t = a_g, the candidate is not squashed by tanh.

    Reason: an ablation; the write i_t * g_t is then unbounded, as in a linear memory.
    """

    def gates(self, a, c_prev):
        gates = super().gates(a, c_prev)
        gates["g"] = a.chunk(4, dim=-1)[2]
        return gates


class NoOutputActivationLSTM(LSTM):
    """NOAF, no output activation: h_t = o_t * c_t, without the tanh.

    Reason: an ablation; without the tanh, h is unbounded whenever c is (with the forget gate
    the cell stays bounded: ``abs(c) <= max abs(g) / (1 - max f)``).
    """

    def output(self, gates, c):
        return gates["o"] * c


class CoupledGateLSTM(LSTM):
    """CIFG, coupled input and forget gate: i_t = 1 - f_t, so c_t = f_t c_{t-1} + (1 - f_t) g_t.

    Reason: fewer parameters (the i block is unused), and the cell becomes a convex
    combination of old content and candidate, as the GRU's update (Cho et al. 2014).
    """

    def gates(self, a, c_prev):
        gates = super().gates(a, c_prev)
        gates["i"] = 1 - gates["f"]
        return gates


class FullGateRecurrenceLSTM(LSTM):
    """FGR, full gate recurrence: each gate also reads all three gates of the previous step.

    With u_{t-1} = [i_{t-1}; f_{t-1}; o_{t-1}] (B, 3H) and ``weight_gate_l0`` R (3H, 3H),
    blocks i, f, o (nine H x H matrices, as in the first LSTM with forget gates)::

        [a_i; a_f; a_o] += R u_{t-1},      u_0 = 0

    Reason: the LSTM of Gers et al. (2000) had these connections; they let a gate react to what
    the others did one step earlier. The previous gates are carried with (h, c) but are not
    returned: every call starts from u_0 = 0 (so a sequence cannot be split across calls
    exactly). R = 0 gives chapter 4's LSTM. R is drawn like the other weights.
    """

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H3 = 3 * self.hidden_size
        return {**super().parameter_shapes(), "weight_gate": (H3, H3)}

    def initial_carry(self, state: State | None, x: torch.Tensor) -> State:
        """(h_0, c_0, u_0) with u_0 = 0 (B, 3H)."""
        u = x.new_zeros(x.shape[-2], 3 * self.hidden_size)  # i, f, o of the previous step
        return (*super().initial_carry(state, x), u)

    def step(self, ax_t: torch.Tensor, state: State) -> tuple[State, dict[str, torch.Tensor]]:
        """The LSTM's step with R u_{t-1} added to a_i, a_f, a_o; carries u_t."""
        h_prev, c_prev, u = state
        r_i, r_f, r_o = F.linear(u, self.weight_gate_l0).chunk(3, dim=-1)  # R u_{t-1}
        ax_t = ax_t + torch.cat([r_i, r_f, torch.zeros_like(r_i), r_o], dim=-1)  # no change to g
        (h, c), gates = super().step(ax_t, (h_prev, c_prev))
        return (h, c, torch.cat([gates["i"], gates["f"], gates["o"]], dim=-1)), gates


#: Greff et al.'s abbreviations -> classes. NP is chapter 4's LSTM, V the peephole LSTM.
VARIANTS: dict[str, type[LSTM]] = {
    "NP": LSTM,
    "V": PeepholeLSTM,
    "NIG": NoInputGateLSTM,
    "NFG": NoForgetGateLSTM,
    "NOG": NoOutputGateLSTM,
    "NIAF": NoInputActivationLSTM,
    "NOAF": NoOutputActivationLSTM,
    "CIFG": CoupledGateLSTM,
    "FGR": FullGateRecurrenceLSTM,
}


def lstm_variant(name: str, input_size: int, hidden_size: int, **kwargs) -> LSTM:
    """A fresh variant by its abbreviation (``VARIANTS``), e.g. ``lstm_variant("CIFG", 2, 32)``;
    ``kwargs`` (``forget_bias``, ``dtype`` ...) go to the class."""
    return VARIANTS[checks.one_of("name", name, tuple(VARIANTS))](input_size, hidden_size, **kwargs)
