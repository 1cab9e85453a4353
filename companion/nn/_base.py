"""What ``LSTMBase`` and ``GRUBase`` share: the size check, torch's four parameters and draw.

A module using these sets ``num_blocks`` (G), ``_suffix`` ("" for a cell, "_l0" for a sequence
layer, as torch names the weights), ``input_size`` (D) and ``hidden_size`` (H). Its parameters
are ``weight_ih`` (G H, D), ``weight_hh`` (G H, H), ``bias_ih`` and ``bias_hh`` (G H,), each
with the suffix; ``PARAMETERS`` gives them the names of the equations, W_ih, W_hh, b_ih, b_hh.
``check_sizes`` also serves ``companion.nn.minimal``.

Functions and properties, not a base class: the two classes stay direct subclasses of
``torch.nn.Module``, since the API reference shows each class's bases and the nitpicky book
build fails on a base in a private module. This module imports torch and never matplotlib.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def check_sizes(input_size: int, hidden_size: int) -> None:
    """Raise ``ValueError`` unless D and H are positive integers (a bool is not one)."""
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")


def register_parameters(
    module: nn.Module, device: torch.device | str | None, dtype: torch.dtype | None
) -> None:
    """Register the four parameters, uninitialised, in torch's order and under torch's names."""
    GH, kw = module.num_blocks * module.hidden_size, {"device": device, "dtype": dtype}
    for name, shape in (
        ("weight_ih", (GH, module.input_size)),
        ("weight_hh", (GH, module.hidden_size)),
        ("bias_ih", (GH,)),
        ("bias_hh", (GH,)),
    ):
        module.register_parameter(name + module._suffix, nn.Parameter(torch.empty(shape, **kw)))


def _parameter(name: str) -> property:
    def get(self: nn.Module) -> nn.Parameter:
        return getattr(self, name + self._suffix)

    return property(get)


#: Properties W_ih, W_hh, b_ih, b_hh, for a class body: ``W_ih, W_hh, b_ih, b_hh = PARAMETERS``.
PARAMETERS = tuple(_parameter(name) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def reset_uniform(module: nn.Module, bias: float) -> None:
    """torch's draw, uniform on (-1/sqrt(H), 1/sqrt(H)), in the order W_ih, W_hh, b_ih, b_hh;
    then b_ih[H:2H] += bias (the second block: LSTM f, GRU z)."""
    H, k = module.hidden_size, 1.0 / math.sqrt(module.hidden_size)
    with torch.no_grad():
        for p in (module.W_ih, module.W_hh, module.b_ih, module.b_hh):
            p.uniform_(-k, k)
        module.b_ih[H : 2 * H] += bias


def check_input(self: nn.Module, x: object, ndim: int, shape: str) -> torch.Tensor:
    """``x`` if it is a tensor of ``ndim`` dimensions, the last D, in the parameters' dtype;
    a class takes it as its method ``_check_input``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor of shape {shape}; got {type(x).__name__}")
    if x.dim() != ndim or x.shape[-1] != self.input_size:
        raise ValueError(
            f"input must have shape {shape} with D={self.input_size}; got {tuple(x.shape)}"
        )
    if x.dtype != self.W_ih.dtype:
        raise TypeError(
            f"input has dtype {x.dtype} but the parameters are {self.W_ih.dtype}; cast one "
            "(module.double() or x.float())"
        )
    return x
