"""torch modules written from the equations, for inspecting and varying the cells.

``LSTM`` and ``LSTMCell`` load the ``state_dict`` of a one-layer ``torch.nn.LSTM`` /
``torch.nn.LSTMCell``, ``GRU`` and ``GRUCell`` that of ``torch.nn.GRU`` / ``GRUCell``, and
reproduce its outputs and gradients; ``return_gates=True`` exposes the gates, and a variant
overrides one method. This package imports torch, never matplotlib.
"""

from companion.nn.gru import GRU, GRUBase, GRUCell
from companion.nn.lstm import LSTM, LSTMBase, LSTMCell

__all__ = ["GRU", "GRUBase", "GRUCell", "LSTM", "LSTMBase", "LSTMCell"]
