"""companion: the tested reference code that every chapter of the book imports.

Subpackages and modules, by the side they are on
--------------------------------------------------
The cells, in two subpackages that never import each other:

- ``companion.ref``: numpy reference cells (forward and hand-written backward), additive and
  dot-product attention (``attention``) and the CTC loss (``ctc``); no torch.
- ``companion.nn``: torch modules from the equations, on one base class
  (``companion.nn.base``), with the LSTM variants (``variants``), minGRU and minLSTM
  (``minimal``), stacked, bidirectional networks (``stacked``) and attention
  (``attention``).

What both sides share, importing neither torch nor matplotlib at the top:

- ``companion.checks``: the argument checks, one rule for each kind of value.
- ``companion.families``: the family table (blocks, gates, torch class, modules).
- ``companion.history``: what a training run records, for either side's loop.
- ``companion.clip``: gradient clipping and the rule for a non-finite gradient.
- ``companion.init``: initialisers (spectral radius, orthogonal, memory bias).
- ``companion.tbptt``: truncated backpropagation through time.
- ``companion.interop``: copy weights between ``torch.nn`` modules and ``ref`` dicts.
- ``companion.gradcheck``, ``companion.probe``: finite differences; gradient norms by
  distance.

numpy only: ``companion.optim`` (SGD, Adam for parameter dicts), ``companion.corpus`` (a
character corpus from Python's standard library), ``companion.charlm`` (a numpy character
language model), ``companion.timeseries`` (sunspots, splits, baselines),
``companion.memory_probes`` (the state a character model must carry through source code),
``companion.numerals`` (English number words to Chinese numerals) and ``companion.tones``
(digits spoken as tone bursts), the data of chapter 10.

torch: ``companion.tasks`` (each task's data, loss, metrics and baseline),
``companion.models`` (``SequenceModel``: an encoder and a readout), ``companion.train``
(the training loop), ``companion.experiments`` (fair comparisons), ``companion.counting``
(a^n b^n beyond the training lengths), ``companion.bench`` (timings),
``companion.seq2seq`` (the encoder-decoder), ``companion.decoding`` (beam search) and
``companion.ctc`` (a CTC recogniser, its loss and decoding).

The book's tooling: ``companion.notebook`` (``setup``, which every chapter calls first),
``companion.numerics`` (the pinned numerical environment), ``companion.style``,
``companion.diagrams`` and ``companion.textfig`` (figures), ``companion.exercises`` (the
exercise checks) and ``companion.instructor`` (the student edition and the grader).
"""

__version__ = "0.1.0"

from companion.notebook import setup

__all__ = ["__version__", "setup"]
