"""The three cell families and what every part of ``companion`` needs to know about each.

One row per family: the number G of stacked gate blocks, the blocks' names in torch's order,
the torch module class, and the modules that implement it here::

    family  G  blocks       keeps  torch.nn   companion.ref (plain, fast)   companion.nn
    rnn     1  a            -      RNN        rnn, rnn_fast                 (none)
    lstm    4  i, f, g, o   f      LSTM       lstm, lstm_fast               LSTM
    gru     3  r, z, n      z      GRU        gru, gru_fast                 GRU

``keeps`` is the gate whose opening keeps the old state: the LSTM's forget gate, the GRU's
update gate in torch's convention h = (1 - z) n + z h_prev (the second block in both).

Every family stores the same four parameters, ``W_ih`` (G H, D), ``W_hh`` (G H, H), ``b_ih``
and ``b_hh`` (G H,), which torch names ``weight_ih_l0`` ... for the first layer
(``PARAMETERS``). A layer has ``G (H D + H H + 2 H)`` of them (``Family.count``).
``companion.bench``, ``companion.interop``, ``companion.models`` and ``companion.init`` read
this table, so that a new family is one more row. The module imports neither numpy nor torch:
a row names its classes and modules, and :meth:`Family.torch_class`, :meth:`Family.ref` and
:meth:`Family.nn_class` import them when asked.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

#: The parameter names of the equations -> torch's names for layer 0 of a ``torch.nn.RNNBase``.
PARAMETERS = {
    "W_ih": "weight_ih_l0",
    "W_hh": "weight_hh_l0",
    "b_ih": "bias_ih_l0",
    "b_hh": "bias_hh_l0",
}


@dataclass(frozen=True)
class Family:
    """What one cell family is, and where it lives."""

    name: str  # the key: "rnn", "lstm" or "gru"
    blocks: tuple[str, ...]  # the gate blocks, in torch's stacking order; G = len(blocks)
    torch_name: str  # the class in torch.nn: "RNN", "LSTM", "GRU"
    ref_modules: tuple[str, str]  # companion.ref's plain and fast modules
    nn_name: str | None  # the class in companion.nn, or None
    keeps: str | None = None  # the block that keeps the old state when open, or None

    @property
    def G(self) -> int:
        """The number of stacked blocks, which is the number of rows of ``W_ih`` per hidden unit."""
        return len(self.blocks)

    def count(self, D: int, H: int, torch_biases: bool = True) -> int:
        """Parameters of one layer: G (H D + H H + 2 H), torch's count, which stores two bias
        vectors; G (H D + H H + H) with one (``torch_biases=False``), as the equations have.

        Raises TypeError or ValueError unless D and H are positive integers.
        """
        from companion import checks  # numpy, imported only when counting

        D, H = checks.positive_int("D", D), checks.positive_int("H", H)
        if not isinstance(torch_biases, bool):
            raise TypeError(f"torch_biases must be a bool; got {type(torch_biases).__name__}")
        return self.G * (H * D + H * H + (2 if torch_biases else 1) * H)

    def torch_class(self) -> type:
        """``torch.nn.RNN``, ``LSTM`` or ``GRU`` (imports torch)."""
        import torch

        return getattr(torch.nn, self.torch_name)

    def ref(self, fast: bool = False):
        """The ``companion.ref`` module: ``rnn``/``lstm``/``gru``, or its ``_fast`` twin."""
        return importlib.import_module(f"companion.ref.{self.ref_modules[fast]}")

    def nn_class(self) -> type:
        """The ``companion.nn`` module written from the equations (imports torch)."""
        if self.nn_name is None:
            raise ValueError(f"the {self.name} family has no companion.nn module")
        return getattr(importlib.import_module("companion.nn"), self.nn_name)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("rnn", ("a",), "RNN", ("rnn", "rnn_fast"), None),
        Family("lstm", ("i", "f", "g", "o"), "LSTM", ("lstm", "lstm_fast"), "LSTM", "f"),
        Family("gru", ("r", "z", "n"), "GRU", ("gru", "gru_fast"), "GRU", "z"),
    )
}


def get(name: object) -> Family:
    """The family called ``name`` ("rnn", "lstm" or "gru"; case does not matter)."""
    key = name.lower() if isinstance(name, str) else name
    if key not in FAMILIES:
        raise ValueError(f"family must be one of {tuple(FAMILIES)}; got {name!r}")
    return FAMILIES[key]


def of_torch_module(module: object) -> Family:
    """The family of a ``torch.nn.RNN``, ``LSTM`` or ``GRU`` instance (or of a subclass's).

    Raises TypeError for anything else, a bare ``torch.nn.RNNBase`` included.
    """
    for family in FAMILIES.values():
        if isinstance(module, family.torch_class()):
            return family
    raise TypeError(f"module must be a torch.nn.RNN, LSTM or GRU; got {type(module).__name__}")
