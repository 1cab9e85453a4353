"""torch modules written from the equations, for inspecting and varying the cells.

``LSTM`` and ``LSTMCell`` load the ``state_dict`` of a one-layer ``torch.nn.LSTM`` /
``torch.nn.LSTMCell`` and reproduce its outputs and gradients; ``return_gates=True`` exposes
the gates, and a variant overrides one method. This package imports torch, never matplotlib.
"""

from companion.nn.lstm import LSTM, LSTMBase, LSTMCell

__all__ = ["LSTM", "LSTMBase", "LSTMCell"]
