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

A variant (chapter 6: the minimal gated unit, gates without input or bias, ...) subclasses
``GRU`` or ``GRUCell`` and overrides one of ``hidden_projection``, ``gates``, ``candidate`` or
``state_update``; ``num_blocks`` sets the number of stacked blocks. It is slower than
``torch.nn.GRU``, which runs a fused kernel; train with torch's and load the weights here to
inspect. This module imports torch and never matplotlib.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from companion.nn import _base

GATES = ("r", "z", "n")
RESETS = ("after", "before")


class GRUBase(nn.Module):
    """The GRU's parameters and one step; ``GRUCell`` and ``GRU`` add the calling convention.

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
        ``num_blocks`` (3) sets the number of stacked blocks; the candidate uses the last one.
        A variant with one gate (the minimal gated unit) sets it to 2 and returns r and z
        from ``gates``.
    """

    num_blocks: int = 3
    _suffix: str = ""  # "_l0" for the sequence layer, as torch.nn.GRU names its weights

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        reset: str = "after",
        update_bias: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _base.check_sizes(input_size, hidden_size)
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}; got {reset!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.reset, self.update_bias = reset, float(update_bias)
        _base.register_parameters(self, device, dtype)
        self.reset_parameters()

    # The four parameters under the names of the equations, whatever torch calls them.
    W_ih, W_hh, b_ih, b_hh = _base.PARAMETERS

    def reset_parameters(self) -> None:
        """torch's draw, uniform on (-1/sqrt(H), 1/sqrt(H)); then b_ih[H:2H] += update_bias."""
        _base.reset_uniform(self, self.update_bias)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, reset={self.reset!r}, "
            f"update_bias={self.update_bias}"
        )

    def _block(self, a: torch.Tensor, k: int) -> torch.Tensor:
        """The k-th (B, H) block of a stacked (B, G*H) tensor."""
        H = self.hidden_size
        return a[..., k * H : (k + 1) * H]

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """W_ih x + b_ih for inputs of shape (..., D): (..., 3H). Done once for a sequence."""
        return F.linear(x, self.W_ih, self.b_ih)

    def hidden_projection(self, h_prev: torch.Tensor) -> torch.Tensor:
        """W_hh h_{t-1} + b_hh, (B, 3H); for reset='before' all rows but the candidate's (the
        last block), (B, 2H), since W_hn multiplies r * h_{t-1} instead."""
        if self.reset == "after":
            return F.linear(h_prev, self.W_hh, self.b_hh)
        gates_rows = (self.num_blocks - 1) * self.hidden_size
        return F.linear(h_prev, self.W_hh[:gates_rows], self.b_hh[:gates_rows])

    def gates(self, ax: torch.Tensor, ah: torch.Tensor) -> dict[str, torch.Tensor]:
        """r = sigma(ax_r + ah_r) and z = sigma(ax_z + ah_z)."""
        return {
            "r": torch.sigmoid(self._block(ax, 0) + self._block(ah, 0)),  # reset gate
            "z": torch.sigmoid(self._block(ax, 1) + self._block(ah, 1)),  # update gate
        }

    def candidate(
        self, ax: torch.Tensor, ah: torch.Tensor, h_prev: torch.Tensor, gates: dict
    ) -> torch.Tensor:
        """n = tanh(ax_n + r * ah_n) (after) or tanh(ax_n + W_hn (r * h_prev) + b_hn) (before);
        the candidate's block n is the last one."""
        r, k = gates["r"], self.num_blocks - 1
        if self.reset == "after":
            return torch.tanh(self._block(ax, k) + r * self._block(ah, k))
        rows = slice(k * self.hidden_size, None)
        return torch.tanh(
            self._block(ax, k) + F.linear(r * h_prev, self.W_hh[rows], self.b_hh[rows])
        )

    def state_update(self, gates: dict[str, torch.Tensor], h_prev: torch.Tensor) -> torch.Tensor:
        """h_t = (1 - z) * n + z * h_{t-1}, torch's convention (z keeps the old state)."""
        z = gates["z"]
        return (1 - z) * gates["n"] + z * h_prev

    def recurrence(
        self, ax_t: torch.Tensor, h_prev: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One step from the projected input ``ax_t`` (B, 3H): returns (h_t, gates)."""
        ah = self.hidden_projection(h_prev)
        gates = self.gates(ax_t, ah)
        gates["n"] = self.candidate(ax_t, ah, h_prev, gates)
        return self.state_update(gates, h_prev), gates

    _check_input = _base.check_input

    def _check_state(self, h: object, shape: tuple[int, ...], x: torch.Tensor) -> torch.Tensor:
        if h is None:
            return x.new_zeros(shape)
        if isinstance(h, tuple | list):
            raise TypeError(
                f"the GRU's state is one tensor of shape {shape} (no cell state); "
                f"got a {type(h).__name__} of {len(h)}"
            )
        if not isinstance(h, torch.Tensor):
            raise TypeError(
                f"state must be a torch.Tensor of shape {shape}; got {type(h).__name__}"
            )
        if tuple(h.shape) != shape:
            raise ValueError(f"state must have shape {shape}; got {tuple(h.shape)}")
        return h


class GRUCell(GRUBase):
    """One GRU step, as ``torch.nn.GRUCell`` (parameters ``weight_ih``, ``weight_hh``,
    ``bias_ih``, ``bias_hh``).

    ``forward(x_t, h=None) -> h_t``: ``x_t`` (B, D); ``h`` (B, H) or None for zeros.
    """

    def forward(self, x_t: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        x_t = self._check_input(x_t, 2, "(B, D)")
        h_prev = self._check_state(h, (x_t.shape[0], self.hidden_size), x_t)
        return self.recurrence(self.input_projection(x_t), h_prev)[0]


class GRU(GRUBase):
    """A one-layer, time-major GRU, as ``torch.nn.GRU(D, H)`` (parameters ``weight_ih_l0``,
    ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``).

    ``forward(x, h0=None, return_gates=False)``:
        x: (T, B, D).  h0: (1, B, H) as torch.nn.GRU takes it (the leading axis is the
        layer), or None for zeros.
        Returns ``(h_seq, h_T)``: (T, B, H) and (1, B, H), exactly torch's shapes. With
        ``return_gates=True`` a third value, a dict of (T, B, H) tensors ``r``, ``z``, ``n``;
        they stay in the autograd graph, so ``.detach()`` them to plot.
    """

    _suffix = "_l0"

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None, return_gates: bool = False):
        x = self._check_input(x, 3, "(T, B, D), time-major")
        B = x.shape[1]
        h = self._check_state(h0, (1, B, self.hidden_size), x)[0]  # (B, H)
        ax = self.input_projection(x)  # W_ih x_t + b_ih for every t at once, (T, B, 3H)
        h_seq, gate_seq = [], []
        # unbind, not ax[t]: backward through indexing builds a full-size zero for every step
        for ax_t in ax.unbind(0):
            h, gates = self.recurrence(ax_t, h)
            h_seq.append(h)
            if return_gates:
                gate_seq.append(gates)
        out = torch.stack(h_seq), h[None]
        if not return_gates:
            return out
        return (*out, {k: torch.stack([g[k] for g in gate_seq]) for k in gate_seq[0]})
