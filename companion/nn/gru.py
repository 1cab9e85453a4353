"""The GRU as a torch module written from its equations, one Python step per time step.

Equations (torch's block order r, z, n; ``W_ih`` (3H, D), ``W_hh`` (3H, H), biases (3H,))::

    r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))     reset="after" (torch, cuDNN)
    n_t = tanh(W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn)     reset="before" (Cho et al.)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                       torch's update convention

``GRU`` is a one-layer, time-major ``torch.nn.GRU``: its parameters are named and shaped as
torch's (``weight_ih_l0`` ...), so ``GRU(D, H).load_state_dict(torch.nn.GRU(D, H)
.state_dict())`` works and, with reset="after", the outputs and gradients then agree.
``GRUCell`` is ``torch.nn.GRUCell`` likewise (``weight_ih`` ...). Autograd does the backward
pass; the hand-written one, and the other update convention, are in ``companion.ref.gru``.
Parameters, reset, checks and the time loop are ``companion.nn.base.RecurrentBase``'s; this
module writes the step.

A variant (chapter 6: the minimal gated unit, gates without input or bias, ...) subclasses
``GRU`` or ``GRUCell`` and overrides one of ``hidden_projection``, ``gates``, ``candidate`` or
``state_update``; ``blocks`` names the stacked blocks. It is slower than
``torch.nn.GRU``, which runs a fused kernel; train with torch's and load the weights here to
inspect. This module imports torch and never matplotlib.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from companion import checks, families
from companion.nn.base import RecurrentBase, State

GATES = families.get("gru").blocks  # r, z, n
RESETS = ("after", "before")


class GRUBase(RecurrentBase):
    """The GRU's step; ``GRUCell`` and ``GRU`` are its two calling conventions.

    Args:
        input_size: D.  hidden_size: H.
        reset: 'after' (default; torch and cuDNN, r * (W_hn h + b_hn)) or 'before' (Cho et al.
            2014, W_hn (r * h) + b_hn: a different function, which torch does not offer).
        update_bias: added to the z block of ``b_ih`` after torch's uniform draw on
            (-1/sqrt(H), 1/sqrt(H)). In torch's convention h = (1 - z) n + z h_prev, so a
            positive value makes the cell keep its state at the start.
        device, dtype: as for any torch module (default float32 on the CPU).

    Hooks for variants (tensors (B, H) unless said; the dict has keys r, z, and n once set):
        ``hidden_projection(h_prev) -> ah`` (B, 3H), or (B, 2H) for reset='before';
        ``gates(ax, ah) -> dict`` with r and z, from ``ax`` = W_ih x + b_ih (B, 3H);
        ``candidate(ax, ah, h_prev, gates) -> n``; ``state_update(gates, h_prev) -> h``.
        ``blocks`` names the stacked blocks (r, z, n); the candidate's is n, the last. A
        variant with one gate (the minimal gated unit) names two and returns r and z from
        ``gates``.
    """

    blocks = GATES
    bias_block, bias_name = "z", "update_bias"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        reset: str = "after",
        update_bias: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        reset = checks.one_of("reset", reset, RESETS)
        super().__init__(input_size, hidden_size, update_bias, device, dtype)
        self.reset = reset

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, reset={self.reset!r}"

    def step(self, ax_t: torch.Tensor, state: State) -> tuple[State, dict[str, torch.Tensor]]:
        """One step from the projected input ``ax_t`` (B, 3H): ((h_t,), gates)."""
        (h_prev,) = state
        ah = self.hidden_projection(h_prev)
        gates = self.gates(ax_t, ah)
        gates["n"] = self.candidate(ax_t, ah, h_prev, gates)
        return (self.state_update(gates, h_prev),), gates

    def hidden_projection(self, h_prev: torch.Tensor) -> torch.Tensor:
        """W_hh h_{t-1} + b_hh, (B, 3H); for reset='before' all rows but the candidate's (the
        last block), (B, 2H), since W_hn multiplies r * h_{t-1} instead."""
        if self.reset == "after":
            return F.linear(h_prev, self.W_hh, self.b_hh)
        gates_rows = self.blocks.index("n") * self.hidden_size
        return F.linear(h_prev, self.W_hh[:gates_rows], self.b_hh[:gates_rows])

    def gates(self, ax: torch.Tensor, ah: torch.Tensor) -> dict[str, torch.Tensor]:
        """r = sigma(ax_r + ah_r) and z = sigma(ax_z + ah_z)."""
        return {
            "r": torch.sigmoid(self.block(ax, "r") + self.block(ah, "r")),  # reset gate
            "z": torch.sigmoid(self.block(ax, "z") + self.block(ah, "z")),  # update gate
        }

    def candidate(
        self, ax: torch.Tensor, ah: torch.Tensor, h_prev: torch.Tensor, gates: dict
    ) -> torch.Tensor:
        """n = tanh(ax_n + r * ah_n) (after) or tanh(ax_n + W_hn (r * h_prev) + b_hn) (before)."""
        r, ax_n = gates["r"], self.block(ax, "n")
        if self.reset == "after":
            return torch.tanh(ax_n + r * self.block(ah, "n"))
        rows = slice(self.blocks.index("n") * self.hidden_size, None)
        return torch.tanh(ax_n + F.linear(r * h_prev, self.W_hh[rows], self.b_hh[rows]))

    def state_update(self, gates: dict[str, torch.Tensor], h_prev: torch.Tensor) -> torch.Tensor:
        """h_t = (1 - z) * n + z * h_{t-1}, torch's convention (z keeps the old state)."""
        z = gates["z"]
        return (1 - z) * gates["n"] + z * h_prev


class GRUCell(GRUBase):
    """One GRU step, as ``torch.nn.GRUCell`` (parameters ``weight_ih``, ``weight_hh``,
    ``bias_ih``, ``bias_hh``).

    ``forward(x_t, h=None) -> h_t``: ``x_t`` (B, D); ``h`` (B, H) or None for zeros.
    """

    is_cell = True


class GRU(GRUBase):
    """A one-layer, time-major GRU, as ``torch.nn.GRU(D, H)`` (parameters ``weight_ih_l0``,
    ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``).

    ``forward(x, h0=None, return_gates=False)``:
        x: (T, B, D), T >= 1.  h0: (1, B, H) as torch.nn.GRU takes it (the leading axis is
        the layer), or None for zeros.
        Returns ``(h_seq, h_T)``: (T, B, H) and (1, B, H), exactly torch's shapes. With
        ``return_gates=True`` a third value, a dict of (T, B, H) tensors ``r``, ``z``, ``n``;
        they stay in the autograd graph, so ``.detach()`` them to plot.
    """
