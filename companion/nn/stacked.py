"""Stacked (deep) and bidirectional recurrent networks from any one-layer recurrent module.

A layer is any module with torch's sequence calling convention, ``layer(x, state) ->
(h_seq, state_T)``: x (T, B, D), h_seq (T, B, H), and the state a (1, B, H) tensor (GRU) or a
tuple of them (LSTM: (h, c)); ``companion.nn.LSTM``, ``GRU``, the variants and ``MinGRU`` all
qualify. ``Stacked`` runs, for layer l = 0 .. L-1 and direction d (forward, then reverse)::

    forward:  h^(l)_t   = cell(h^(l-1)_t, h^(l)_{t-1}),   t = 1 .. T     (h^(-1) = x)
    reverse:  h^(l)_t'  = cell'(h^(l-1)_t, h^(l)_{t+1}'),  t = T .. 1    (own weights)
    output of layer l = [h^(l)_t ; h^(l)_t']  (T, B, 2H), the input of layer l + 1, after
    dropout (training mode only, not after the last layer)

exactly as ``torch.nn.LSTM`` / ``GRU`` with ``num_layers`` and ``bidirectional``. States are
stacked on the leading axis in torch's order (layer 0 forward, layer 0 reverse, layer 1 ...):
h0 and h_n have shape (L * dirs, B, H). ``state_dict`` uses torch's names (``weight_ih_l1``,
``weight_ih_l0_reverse`` ...), so ``load_state_dict`` takes the ``state_dict`` of the torch
module with the same sizes. The reverse direction needs the whole sequence before its first
output: allowed for tagging or encoding a finished sequence, not for streaming or for a
language model that predicts x_{t+1} (the reverse state at t has seen it).
This module imports torch and never matplotlib.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
from torch import nn

_TORCH_KEY = re.compile(r"^(?P<base>.+)_l(?P<layer>\d+)(?P<rev>_reverse)?$")


def _state_slice(state, k: int):
    """The state of layer-direction k from a stacked state (a tensor or a tuple of them)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state[k : k + 1]
    return tuple(s[k : k + 1] for s in state)


def _state_cat(states: list):
    """Stack the per-layer states (each (1, B, H), or tuples of them) on the leading axis."""
    if isinstance(states[0], torch.Tensor):
        return torch.cat(states)
    return tuple(torch.cat(parts) for parts in zip(*states, strict=True))


class Stacked(nn.Module):
    """``num_layers`` layers of ``layer``, each in one or two directions, with dropout between.

    Args:
        layer: a class or factory, ``layer(input_size, hidden_size, **layer_kwargs)`` returns
            a one-layer module with torch's calling convention (see the module docstring).
        input_size: D.  hidden_size: H of every layer and direction.
        num_layers: L.  bidirectional: run a second layer over the reversed sequence.
        dropout: probability of zeroing an input of layers 1 .. L-1 in training mode.
        layer_kwargs: passed on, e.g. ``dtype=torch.float64``.

    ``forward(x, state=None) -> (out, state_n)``: x (T, B, D); out (T, B, dirs H), the last
    layer's outputs, forward features first; state as torch's, each tensor (L dirs, B, H).
    The layer modules are ``self.layers[l * dirs + d]``.
    """

    def __init__(
        self,
        layer: Callable[..., nn.Module],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        **layer_kwargs,
    ) -> None:
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer; got {num_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.bidirectional = num_layers, bool(bidirectional)
        self.dirs = 2 if bidirectional else 1
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            layer(input_size if n == 0 else self.dirs * hidden_size, hidden_size, **layer_kwargs)
            for n in range(num_layers)
            for _ in range(self.dirs)
        )
        self._register_state_dict_hook(Stacked._to_torch_names)
        self._register_load_state_dict_pre_hook(self._from_torch_names)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}"
        )

    def forward(self, x: torch.Tensor, state=None):
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.input_size:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (T, B, D={self.input_size}); got {got}")
        states = []
        for n in range(self.num_layers):
            if n > 0:
                x = self.dropout(x)  # between layers only
            outs = []
            for d in range(self.dirs):
                k = n * self.dirs + d
                x_d = x if d == 0 else x.flip(0)  # the reverse layer reads t = T .. 1
                h_seq, s = self.layers[k](x_d, _state_slice(state, k))
                outs.append(h_seq if d == 0 else h_seq.flip(0))  # back to time order
                states.append(s)
            x = torch.cat(outs, dim=-1)  # (T, B, dirs H)
        return x, _state_cat(states)

    # --- torch's parameter names ------------------------------------------------------------
    def _torch_name(self, k: int, name: str) -> str:
        n, d = divmod(k, self.dirs)
        base = name[:-3] if name.endswith("_l0") else name
        return f"{base}_l{n}" + ("_reverse" if d else "")

    @staticmethod
    def _to_torch_names(module, state_dict, prefix, local_metadata):
        for key in [k for k in state_dict if k.startswith(prefix + "layers.")]:
            k, name = key[len(prefix + "layers.") :].split(".", 1)
            state_dict[prefix + module._torch_name(int(k), name)] = state_dict.pop(key)
        return state_dict

    def _from_torch_names(self, state_dict, prefix, *args):
        for key in [k for k in state_dict if k.startswith(prefix)]:
            m = _TORCH_KEY.match(key[len(prefix) :])
            if m is None:
                continue
            k = int(m["layer"]) * self.dirs + (1 if m["rev"] else 0)
            if k >= len(self.layers) or (m["rev"] and not self.bidirectional):
                continue  # left for load_state_dict to report as unexpected
            names = dict(self.layers[k].named_parameters(recurse=False))
            name = m["base"] + "_l0" if m["base"] + "_l0" in names else m["base"]
            state_dict[f"{prefix}layers.{k}.{name}"] = state_dict.pop(key)


class WithReadout(nn.Module):
    """Any recurrent module (``encoder``) followed by a linear readout, as ``SequenceModel``.

    ``readout='last'`` maps h_T to (B, Q), ``'all'`` every h_t to (T, B, Q); the encoder's
    output size is read from its ``hidden_size`` (times 2 if it is bidirectional). Attributes
    ``encoder`` and ``readout``, as ``companion.models.SequenceModel``, so that the training
    loop and ``companion.experiments.compare`` take it unchanged.
    """

    def __init__(self, encoder: nn.Module, output_size: int, readout: str = "last") -> None:
        super().__init__()
        if readout not in ("last", "all"):
            raise ValueError(f"readout must be 'last' or 'all'; got {readout!r}")
        width = encoder.hidden_size * (2 if getattr(encoder, "bidirectional", False) else 1)
        self.encoder, self.mode = encoder, readout
        self.readout = nn.Linear(width, output_size, dtype=next(encoder.parameters()).dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h_seq, _ = self.encoder(x)  # (T, B, H)
        return self.readout(h_seq[-1] if self.mode == "last" else h_seq)
