"""The base of the recurrent modules of ``companion.nn``: one time loop over a swappable step.

Every cell here is one step applied at t = 1 .. T; only the step differs between families::

    ax_t               = W_ih x_t + b_ih                   for every t at once, (T, B, G H)
    state_t, gates_t   = step(ax_t, state_{t-1})           t = 1 .. T, state_0 given or zeros
    h_seq              = (h_1, ..., h_T),  h_t = state_t[0]

``RecurrentBase`` writes that loop once (:meth:`RecurrentBase.scan`), as torch's ``RNNBase``
owns the parameters, their reset and the named input checks: ``weight_ih`` (G H, D),
``weight_hh`` (G H, H), ``bias_ih`` and ``bias_hh`` (G H,), with torch's suffix ("_l0" for a
sequence layer, none for a cell) and under the names of the equations ``W_ih``, ``W_hh``,
``b_ih``, ``b_hh``; ``reset_parameters`` is torch's draw. A family (``LSTMBase``,
``GRUBase``, ``MinimalBase``) names its G blocks and writes ``step``; a variant overrides the
part of the step that differs. The carried state may hold more than the public state (h) or
(h, c): the full gate recurrence of ``companion.nn.variants`` carries the previous gates.

A new family is a subclass that sets ``blocks`` (and ``state_names`` if its state is not h
alone) and writes ``step``; the Elman cell of chapter 1 is::

    class Elman(RecurrentBase):
        blocks = ("a",)

        def step(self, ax_t, state):
            h = torch.tanh(ax_t + F.linear(state[0], self.W_hh, self.b_hh))
            return (h,), {}

and it loads the ``state_dict`` of ``torch.nn.RNN(D, H)``. The checks (``check_input``,
``check_hidden_size``, ``check_state``, ``check_forward_args``, as torch names them) come last,
with the functions that ``companion.nn.stacked`` shares. This module imports torch and never
matplotlib.
"""

from __future__ import annotations

import math
import re

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from companion import checks

State = tuple[torch.Tensor, ...]


def _parameter(name: str, shape: str) -> property:
    def get(self: RecurrentBase) -> nn.Parameter:
        return getattr(self, name + self._suffix)

    return property(get, doc=f"``{name}`` with torch's suffix, {shape}.")


class RecurrentBase(nn.Module):
    """Parameters, reset, the time loop and the input checks of a recurrent module.

    Args:
        input_size: the input size D (an integer >= 1).
        hidden_size: the hidden size H (an integer >= 1).
        block_bias: added to the block ``bias_block`` of ``b_ih`` after the draw; a family
            names it (``bias_name``): the LSTM's ``forget_bias``, the GRU's ``update_bias``.
        device: as for any torch module (default: the CPU).
        dtype: as for any torch module (default: float32).

    A subclass sets the class attributes ``blocks``, ``state_names``, ``is_cell``,
    ``bias_block`` and ``bias_name`` and writes ``step``.

    ``forward(x, state=None, return_gates=False)``: for a sequence layer x is time-major
    (T, B, D) and the state is h0, or the tuple (h0, c0), each (1, B, H) as torch's; it
    returns ``(h_seq, state_T)``, (T, B, H) and the state in the same form, plus with
    ``return_gates`` a dict of (T, B, H) tensors (the gates of ``step`` and the state beyond
    h, such as the LSTM's c). For a cell x is (B, D), the state h or (h, c), each (B, H), and
    it returns the new state (and with ``return_gates`` the gates, (B, H) each).

    Raises:
        TypeError: a size that is not an integer (a bool, a float); an input or state that is
            not a tensor, or whose dtype is not the parameters'; a state of the wrong arity.
        ValueError: a size below 1; an input or state of the wrong shape; an empty sequence
            (T = 0: torch.nn.LSTM and GRU raise RuntimeError there); loading the weights of
            a ``torch.nn.LSTM`` with ``proj_size > 0``.
    """

    #: The names of the G stacked blocks of ``W_ih``, in torch's order.
    blocks: tuple[str, ...] = ("a",)
    #: The names of the public state; the first is h, the output at every step.
    state_names: tuple[str, ...] = ("h",)
    #: True for one step, as ``torch.nn.LSTMCell``; False for a time-major sequence layer.
    is_cell: bool = False
    #: The block of ``b_ih`` that the bias argument is added to after the draw, or None.
    bias_block: str | None = None
    #: The name of that argument and attribute ("forget_bias" for the LSTM).
    bias_name: str = "block_bias"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        block_bias: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.input_size = checks.positive_int("input_size", input_size)
        self.hidden_size = checks.positive_int("hidden_size", hidden_size)
        setattr(self, self.bias_name, checks.number(self.bias_name, block_bias))
        for name, shape in self.parameter_shapes().items():
            empty = torch.empty(shape, device=device, dtype=dtype)
            self.register_parameter(name + self._suffix, nn.Parameter(empty))
        self.reset_parameters()

    @property
    def num_blocks(self) -> int:
        """G, the number of stacked blocks."""
        return len(self.blocks)

    @property
    def _suffix(self) -> str:
        return "" if self.is_cell else "_l0"

    W_ih = _parameter("weight_ih", "(G H, D)")
    W_hh = _parameter("weight_hh", "(G H, H)")
    b_ih = _parameter("bias_ih", "(G H,)")
    b_hh = _parameter("bias_hh", "(G H,)")

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """The parameters' names without the suffix and their shapes, in the order of
        registration and of the draw; a subclass with more parameters extends it."""
        GH, D, H = self.num_blocks * self.hidden_size, self.input_size, self.hidden_size
        return {"weight_ih": (GH, D), "weight_hh": (GH, H), "bias_ih": (GH,), "bias_hh": (GH,)}

    def reset_parameters(self) -> None:
        """torch's draw, every parameter uniform on (-1/sqrt(H), 1/sqrt(H)) in the order of
        ``parameter_shapes``; then the bias argument (``bias_name``) is added to the block
        ``bias_block`` of ``b_ih``."""
        k = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for name in self.parameter_shapes():
                getattr(self, name + self._suffix).uniform_(-k, k)
            if self.bias_block is not None:
                self.block(self.b_ih, self.bias_block).add_(getattr(self, self.bias_name))

    def extra_repr(self) -> str:
        bias = f", {self.bias_name}={getattr(self, self.bias_name)}" if self.bias_block else ""
        return f"{self.input_size}, {self.hidden_size}{bias}"

    def block(self, a: torch.Tensor, name: str) -> torch.Tensor:
        """The block ``name`` of a stacked tensor (..., G H): (..., H), a view."""
        if name not in self.blocks:
            raise ValueError(f"{type(self).__name__} has blocks {self.blocks}; got {name!r}")
        k, H = self.blocks.index(name), self.hidden_size
        return a[..., k * H : (k + 1) * H]

    # --- the step and the loop --------------------------------------------------------------
    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """ax = W_ih x + b_ih for inputs (..., D): (..., G H), once for a whole sequence."""
        return F.linear(x, self.W_ih, self.b_ih)

    def step(self, ax_t: torch.Tensor, state: State) -> tuple[State, dict[str, torch.Tensor]]:
        """One step from the projected input ``ax_t`` (B, G H) and the carried state (a tuple
        of tensors, h first): returns the new carried state and a dict of the gates (B, H)."""
        raise NotImplementedError(f"{type(self).__name__} must define step(ax_t, state)")

    def initial_carry(self, state: State | None, x: torch.Tensor) -> State:
        """The carried state before the first step: ``state``, or zeros (B, H) for each name
        of ``state_names``; a subclass that carries more appends its initial values."""
        if state is None:
            state = tuple(x.new_zeros(x.shape[-2], self.hidden_size) for _ in self.state_names)
        return state

    def scan(
        self,
        x: torch.Tensor,
        state: State | None = None,
        return_gates: bool = False,
        lengths: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, State, dict[str, torch.Tensor] | None]:
        """The time loop: ``step`` for t = 1 .. T over x (T, B, D) from ``state`` (a tuple of
        (B, H), or None for zeros). Returns h_seq (T, B, H), the final public state (a
        tuple of (B, H)) and, with ``return_gates``, the gates and the state beyond h
        stacked over time, each (T, B, H) (else None). With ``lengths`` (B,), sequence b
        stops at its own end: for t > lengths[b] its state is held and its output is 0, as
        torch's packed sequences give."""
        ax = self.input_projection(x)  # (T, B, G H)
        carry = self.initial_carry(state, x)
        h_seq, record = [], []
        # unbind, not ax[t]: backward through indexing builds a full-size zero for every step
        for t, ax_t in enumerate(ax.unbind(0)):
            new, gates = self.step(ax_t, carry)
            if lengths is None:
                carry, h_t = new, new[0]
            else:
                live = (t < lengths)[:, None]  # (B, 1)
                carry = tuple(torch.where(live, n, c) for n, c in zip(new, carry, strict=True))
                h_t = torch.where(live, new[0], 0.0)
            h_seq.append(h_t)
            if return_gates:
                record.append(gates | dict(zip(self.state_names[1:], carry[1:], strict=False)))
        gates = {k: torch.stack([r[k] for r in record]) for k in record[0]} if record else None
        return torch.stack(h_seq), carry[: len(self.state_names)], gates

    def forward(
        self,
        x: torch.Tensor,
        state: object = None,
        return_gates: bool = False,
        lengths: object = None,
    ):
        x, state = self.check_forward_args(x, state)
        if self.is_cell:
            if lengths is not None:
                raise TypeError(f"{type(self).__name__} is a cell (one step): it takes no lengths")
            carry, gates = self.step(self.input_projection(x), self.initial_carry(state, x))
            out = self._public(carry[: len(self.state_names)])
            return (out, gates) if return_gates else out
        lengths = None if lengths is None else check_lengths(lengths, x)
        h_seq, state, gates = self.scan(x, state, return_gates, lengths)
        out = h_seq, self._public(tuple(s[None] for s in state))  # states (1, B, H), as torch
        return (*out, gates) if return_gates else out

    def _public(self, state: State):
        """The state as the caller sees it: one tensor h, or the tuple (h, c)."""
        return state[0] if len(self.state_names) == 1 else state

    # --- the checks -------------------------------------------------------------------------
    def check_input(self, x: object) -> torch.Tensor:
        """``x`` if it is a tensor (B, D) for a cell, a time-major sequence (T, B, D) with
        T >= 1 for a layer, in the parameters' dtype."""
        if not self.is_cell:
            return check_sequence(x, self.input_size, self.W_ih.dtype)
        shape = f"(B, D) with D={self.input_size}"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor of shape {shape}; got {_kind(x)}")
        if x.dim() != 2 or x.shape[-1] != self.input_size:
            raise ValueError(f"input must have shape {shape} (one time step); got {tuple(x.shape)}")
        return check_dtype("input", x, self.W_ih.dtype)

    def check_hidden_size(
        self, h: object, expected: tuple[int, ...], name: str, x: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``h`` if it is a tensor of shape ``expected`` in the parameters' dtype (``x``, the
        sequence of a layer, explains a wrong batch size)."""
        return check_tensor(name, h, expected, self.W_ih.dtype, x)

    def check_state(self, state: object, x: torch.Tensor) -> State | None:
        """The state as a tuple of (B, H) tensors, or None: one tensor h, or the tuple (h, c)
        for the LSTM, each (B, H) for a cell and (1, B, H) for a layer."""
        if state is None:
            return None
        B, names = x.shape[-2], self.state_names
        expected = (B, self.hidden_size) if self.is_cell else (1, B, self.hidden_size)
        single = len(names) == 1
        if single and not isinstance(state, torch.Tensor):
            raise TypeError(
                f"state must be one torch.Tensor {names[0]} of shape {expected} "
                f"(no cell state); got {_kind(state)}"
            )
        if not single and not (isinstance(state, tuple | list) and len(state) == len(names)):
            raise TypeError(
                f"state must be a pair ({', '.join(names)}) of tensors of shape "
                f"{expected}; got {_kind(state)}"
            )
        state = (state,) if single else tuple(state)
        out = []
        for name, s in zip(names, state, strict=True):
            label = "state" if single else f"state {name}"
            s = self.check_hidden_size(s, expected, label, None if self.is_cell else x)
            out.append(s if self.is_cell else s[0])
        return tuple(out)

    def check_forward_args(self, x: object, state: object) -> tuple[torch.Tensor, State | None]:
        """The input and the state, checked: ``(x, state)`` with the state a tuple of (B, H)
        tensors or None."""
        x = self.check_input(x)
        return x, self.check_state(state, x)

    def _load_from_state_dict(self, state_dict, prefix, *args) -> None:
        reject_projections(state_dict, prefix, type(self).__name__)
        super()._load_from_state_dict(state_dict, prefix, *args)


# --- checks shared with companion.nn.stacked ------------------------------------------------
def _kind(v: object) -> str:
    """What ``v`` is, for an error message."""
    if isinstance(v, torch.Tensor):
        return f"a single tensor of shape {tuple(v.shape)}"
    if isinstance(v, tuple | list):
        return f"a {type(v).__name__} of length {len(v)}"
    return type(v).__name__


def check_dtype(name: str, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``t`` if its dtype is the parameters' ``dtype``, else TypeError naming both."""
    if t.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {t.dtype} but the parameters are {dtype}; cast one to the other: "
            f"{name}.to({dtype}), or the module with module.to({t.dtype})"
        )
    return t


def check_sequence(x: object, input_size: int, dtype: torch.dtype) -> torch.Tensor:
    """``x`` if it is a time-major sequence (T, B, D) with T >= 1 and D = ``input_size`` in
    ``dtype``. A batch-first (B, T, D) tensor with the right D cannot be told apart: it is
    read as T = B steps of a batch of T."""
    shape = f"(T, B, D), time-major with D={input_size}"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor of shape {shape}; got {_kind(x)}")
    if x.dim() != 3 or x.shape[-1] != input_size:
        raise ValueError(
            f"input must have shape {shape}; got {tuple(x.shape)}. It is read as time-major "
            "(T, B, D), as torch.nn.LSTM with batch_first=False: if it is batch-first "
            "(B, T, D), pass x.transpose(0, 1); one unbatched sequence (T, D), pass x[:, None]"
        )
    if x.shape[0] == 0:
        raise ValueError(
            f"input has T = 0 steps (shape {tuple(x.shape)}); T must be >= 1 (torch.nn.LSTM "
            "and GRU raise 'Expected sequence length to be larger than 0')"
        )
    return check_dtype("input", x, dtype)


def check_lengths(lengths: object, x: torch.Tensor) -> torch.Tensor:
    """``lengths`` as an int64 tensor (B,) if each entry is an integer in [1, T] for the
    padded batch x (T, B, ...): the number of real steps of each sequence, as the
    ``lengths`` of ``torch.nn.utils.rnn.pack_padded_sequence``."""
    T, B = x.shape[0], x.shape[1]
    if isinstance(lengths, torch.Tensor):
        t = lengths
    else:
        try:
            t = torch.as_tensor(np.asarray(lengths))
        except (TypeError, ValueError) as err:
            expected = f"lengths must be integers, shape ({B},)"
            raise TypeError(f"{expected}; got {_kind(lengths)}") from err
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"lengths must be integers, shape ({B},); got dtype {t.dtype}")
    if t.shape != (B,):
        raise ValueError(f"lengths must have shape (B,) = ({B},); got {tuple(t.shape)}")
    if B and (int(t.min()) < 1 or int(t.max()) > T):
        raise ValueError(
            f"lengths must lie in [1, T] = [1, {T}]; got min {int(t.min())}, max {int(t.max())}"
        )
    return t.to(device=x.device, dtype=torch.int64)


def check_tensor(
    name: str, s: object, shape: tuple[int, ...], dtype: torch.dtype, x: torch.Tensor | None = None
) -> torch.Tensor:
    """``s`` if it is a tensor of ``shape`` in ``dtype``. With ``x``, the time-major input
    that sets B = ``shape[1]``, an error on the batch axis says how x was read."""
    if not isinstance(s, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}; got {_kind(s)}")
    if tuple(s.shape) != shape:
        hint = ""
        if x is not None and s.dim() == 3 and s.shape[1] != x.shape[1]:
            hint = (
                f" (B = {x.shape[1]} because x {tuple(x.shape)} is read as time-major (T, B, D);"
                " if x is batch-first (B, T, D), pass x.transpose(0, 1))"
            )
        raise ValueError(f"{name} must have shape {shape}; got {tuple(s.shape)}{hint}")
    return check_dtype(name, s, dtype)


_PROJECTION = re.compile(r"weight_hr(_l\d+(_reverse)?)?$")


def reject_projections(state_dict: dict, prefix: str, owner: str) -> None:
    """Raise ValueError if ``state_dict`` holds the projection weights of a ``torch.nn.LSTM``
    with ``proj_size > 0`` (``weight_hr_l0`` ...) under ``prefix``, naming the keys."""
    keys = [k for k in state_dict if k.startswith(prefix) and _PROJECTION.match(k[len(prefix) :])]
    if keys:
        P = state_dict[keys[0]].shape[0]
        raise ValueError(
            f"the state_dict has {', '.join(keys)}: the weights of a torch.nn.LSTM with "
            f"proj_size={P} (h projected from H to P). proj_size is not supported by {owner}: "
            "load the weights of an LSTM with proj_size=0"
        )
