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
import warnings
from collections.abc import Callable

import torch
from torch import nn

from companion import checks
from companion.nn.base import check_lengths, check_sequence, check_tensor, reject_projections

_TORCH_KEY = re.compile(r"^(?P<base>.+)_l(?P<layer>\d+)(?P<rev>_reverse)?$")


def _state_slice(state, k: int):
    """The state of layer-direction k from a stacked state (a tensor or a tuple of them)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state[k : k + 1]
    return tuple(s[k : k + 1] for s in state)


def _reversal(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """Indices (T, B) that reverse each sequence within its length and keep the padding:
    t -> lengths[b] - 1 - t for t < lengths[b], else t. Applying them twice is the identity."""
    t = torch.arange(T, device=lengths.device)[:, None]  # (T, 1)
    return torch.where(t < lengths, lengths - 1 - t, t)  # (T, B)


def _take(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """x (T, B, F) re-ordered in time per sequence: out[t, b] = x[order[t, b], b]."""
    return x.gather(0, order[:, :, None].expand_as(x))


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

    ``forward(x, state=None, lengths=None) -> (out, state_n)``: x (T, B, D), T >= 1; out
    (T, B, dirs H), the last layer's outputs, forward features first; state as torch's, each
    tensor (L dirs, B, H). ``lengths`` (B,), for a padded batch, gives what a packed sequence
    gives torch's modules: sequence b has ``lengths[b]`` real steps, the reverse direction
    starts at its own last step, each state stops at the sequence's end (h_n is the state
    there) and the outputs past the end are 0.
    The layer modules are ``self.layers[l * dirs + d]``.

    Warns ``UserWarning``, as ``torch.nn.LSTM`` does, when ``dropout > 0`` with one layer
    (there is no layer after which to drop).

    Raises:
        TypeError: a size that is not an integer, a dropout that is not a number; an input or
            state that is not a tensor or not in the parameters' dtype.
        ValueError: a size below 1, a dropout outside [0, 1); an input or state of the wrong
            shape, an empty sequence (T = 0); loading the weights of a ``torch.nn.LSTM`` with
            ``proj_size > 0``.
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
        self.input_size = checks.positive_int("input_size", input_size)
        self.hidden_size = checks.positive_int("hidden_size", hidden_size)
        self.num_layers = checks.positive_int("num_layers", num_layers)
        dropout = checks.number("dropout", dropout, 0.0, 1.0, high_open=True)
        if dropout > 0 and self.num_layers == 1:  # as torch.nn.LSTM warns
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={self.num_layers}",
                UserWarning,
                stacklevel=2,
            )
        self.bidirectional = bool(bidirectional)
        self.dirs = 2 if bidirectional else 1
        self.dropout = nn.Dropout(dropout)
        D, H = self.input_size, self.hidden_size
        self.layers = nn.ModuleList(
            layer(D if n == 0 else self.dirs * H, H, **layer_kwargs)
            for n in range(self.num_layers)
            for _ in range(self.dirs)
        )
        self._register_state_dict_hook(Stacked._to_torch_names)
        self._register_load_state_dict_pre_hook(self._from_torch_names)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}"
        )

    def forward(self, x: torch.Tensor, state=None, lengths=None):
        x = self.check_forward_args(x, state)
        if lengths is not None:
            lengths = check_lengths(lengths, x)
            order = _reversal(lengths, x.shape[0])  # (T, B): t -> lengths[b] - 1 - t
        states = []
        for n in range(self.num_layers):
            if n > 0:
                x = self.dropout(x)  # between layers only
            outs = []
            for d in range(self.dirs):
                k = n * self.dirs + d
                layer, s0 = self.layers[k], _state_slice(state, k)
                if lengths is None:
                    x_d = x if d == 0 else x.flip(0)  # the reverse layer reads t = T .. 1
                    h_seq, s = layer(x_d, s0)
                    outs.append(h_seq if d == 0 else h_seq.flip(0))  # back to time order
                elif d == 0:
                    h_seq, s = layer(x, s0, lengths=lengths)
                    outs.append(h_seq)
                else:  # each sequence reversed within its own length, then back
                    h_seq, s = layer(_take(x, order), s0, lengths=lengths)
                    outs.append(_take(h_seq, order))
                states.append(s)
            x = torch.cat(outs, dim=-1)  # (T, B, dirs H)
        return x, _state_cat(states)

    def check_forward_args(self, x: object, state: object) -> torch.Tensor:
        """``x`` if it is a time-major sequence (T, B, D), T >= 1, in the parameters' dtype, and
        ``state`` None, a tensor or a tuple of tensors, each (L dirs, B, H) in that dtype."""
        dtype = next(self.parameters()).dtype
        x = check_sequence(x, self.input_size, dtype)
        shape = (self.num_layers * self.dirs, x.shape[1], self.hidden_size)
        parts = [] if state is None else [state] if isinstance(state, torch.Tensor) else state
        if not isinstance(parts, tuple | list):
            raise TypeError(f"state must be a tensor or a tuple of tensors of shape {shape}")
        for k, s in enumerate(parts):
            name = "state" if isinstance(state, torch.Tensor) else f"state[{k}]"
            check_tensor(f"{name} (L dirs, B, H)", s, shape, dtype, x)
        return x

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
        reject_projections(state_dict, prefix, "Stacked")
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
