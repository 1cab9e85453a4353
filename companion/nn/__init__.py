"""torch modules written from the equations, for inspecting and varying the cells.

``LSTM`` and ``LSTMCell`` load the ``state_dict`` of a one-layer ``torch.nn.LSTM`` /
``torch.nn.LSTMCell``, ``GRU`` and ``GRUCell`` that of ``torch.nn.GRU`` / ``GRUCell``, and
reproduce its outputs and gradients; ``return_gates=True`` exposes the gates, and a variant
overrides one method (``companion.nn.variants``: the LSTM variants of Greff et al.;
``companion.nn.minimal``: minGRU, minLSTM and GRU variants). All of them are subclasses of
``RecurrentBase`` (``companion.nn.base``), which owns the parameters, their reset, the input
checks and the one time loop; a family writes its step. ``Stacked`` builds deep and
bidirectional networks from any of them (``companion.nn.stacked``). This package imports
torch, never matplotlib.
"""

from companion.nn.attention import AdditiveAttention, DotProductAttention
from companion.nn.base import RecurrentBase
from companion.nn.gru import GRU, GRUBase, GRUCell
from companion.nn.lstm import LSTM, LSTMBase, LSTMCell
from companion.nn.minimal import GateSimplifiedGRU, MinGRU, MinimalGatedUnit, MinLSTM
from companion.nn.stacked import Stacked
from companion.nn.variants import VARIANTS, lstm_variant

__all__ = [
    "AdditiveAttention",
    "DotProductAttention",
    "GRU",
    "GRUBase",
    "GRUCell",
    "GateSimplifiedGRU",
    "LSTM",
    "LSTMBase",
    "LSTMCell",
    "MinGRU",
    "MinLSTM",
    "MinimalGatedUnit",
    "RecurrentBase",
    "Stacked",
    "VARIANTS",
    "lstm_variant",
]
