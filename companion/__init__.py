"""companion: the tested reference code that every chapter of the book imports.

Subpackages and modules
-----------------------
- ``companion.ref``: numpy reference cells (forward and hand-written backward); no torch.
- ``companion.nn``: torch modules from the equations (``LSTM``, ``GRU``), to inspect and vary.
- ``companion.nn.variants``: the LSTM variants of Greff et al. (peepholes, CIFG, ...).
- ``companion.nn.minimal``: minGRU and minLSTM (sequential and log-space scan), GRU variants.
- ``companion.nn.stacked``: stacked and bidirectional networks from any one-layer module.
- ``companion.interop``: copy weights between ``torch.nn`` modules and ``ref`` parameter dicts.
- ``companion.notebook``: the setup helper that every notebook calls first.
- ``companion.style``: the book's single figure style.
- ``companion.exercises``: automatic checks for the code exercises.
- ``companion.tbptt``: truncated backpropagation through time, for numpy and torch models.
- ``companion.optim``: SGD and Adam for numpy parameter dicts, updating in place.
- ``companion.corpus``: a character corpus from Python's own standard library, no download.
- ``companion.charlm``: a numpy character language model trained by truncated BPTT.
- ``companion.experiments``: fair model comparisons (same data, budget, seeds) as a table.
- ``companion.timeseries``: a real series (sunspots), time-order splits, windows, baselines.
"""

__version__ = "0.1.0"

from companion.notebook import setup

__all__ = ["__version__", "setup"]
