"""The sequence model of the book: a recurrent encoder and a linear readout.

The encoder is ``torch.nn.RNN``, ``GRU`` or ``LSTM`` chosen by name (one layer, time-major,
``batch_first=False``), or any module with torch's sequence calling convention,
``encoder(x) -> (h_seq, state)`` (``companion.nn``'s cells, variants and ``Stacked``); a
linear readout maps its hidden states to outputs::

    h_1..h_T = encoder(x_1..x_T)              x (T, B, D) -> h_seq (T, B, H)
    out      = W_hq h_T + b_q                 readout "last": (B, Q)
    out_t    = W_hq h_t + b_q for every t     readout "all":  (T, B, Q)

The same class serves the plain RNN of chapter 3, the gated cells of chapters 4 and 5 and the
variants of chapter 6, so that a comparison changes one argument. ``LanguageModel`` (chapter 9)
puts a learned embedding in front of it and reads every step out over the vocabulary::

    e_t = E[c_t]                              ids (T, B) -> (T, B, D), D = embedding size
    h_t, state = encoder(e_t, state)          carried from one window to the next
    logits_t = W_hq h_t + b_q                 (T, B, V); p(c_{t+1} | c_<=t) = softmax(logits_t)

This module imports torch and never matplotlib.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from companion import checks, families, init
from companion.train import evaluation_mode

READOUTS = ("last", "all")


class SequenceModel(nn.Module):
    """A recurrent encoder and a linear readout ``readout`` (``nn.Linear``, width -> Q).

    Args:
        input_size: D, features per step.
        hidden_size: H, units in the hidden state (per direction).
        output_size: Q, outputs per readout step (1 for the adding problem, the number of
            classes for a classification).
        cell: 'rnn' (Elman), 'gru' or 'lstm', for a one-layer ``torch.nn`` module built
            here; or a module built by the caller, whose ``input_size`` and ``hidden_size``
            must be D and H (a bidirectional one gives the readout 2H features).
        nonlinearity: 'tanh' or 'relu', for ``cell='rnn'`` only.
        readout: the readout kind, kept as ``readout_kind``: 'last' reads h_T only, output
            (B, Q); 'all' reads every h_t, output (T, B, Q).

    Raises ValueError for an unknown cell, readout or nonlinearity, non-positive sizes, or a
    module whose sizes are not D and H; TypeError for a ``cell`` that is neither a name nor a
    module. Attributes ``encoder`` and ``readout`` are public, so that ``companion.init`` and
    ``companion.probe`` can reach the recurrent weights.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        cell: str | nn.Module = "rnn",
        nonlinearity: str = "tanh",
        readout: str = "last",
    ) -> None:
        super().__init__()
        D = checks.positive_int("input_size", input_size)
        H = checks.positive_int("hidden_size", hidden_size)
        Q = checks.positive_int("output_size", output_size)
        self.readout_kind = checks.one_of("readout", readout, READOUTS)
        self.encoder = _encoder(cell, D, H, nonlinearity)
        bidirectional = getattr(self.encoder, "bidirectional", False)
        dtype = next(self.encoder.parameters()).dtype
        self.readout = nn.Linear(H * (2 if bidirectional else 1), Q, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` (T, B, D) to (B, Q) for readout 'last', or (T, B, Q) for 'all'."""
        h_seq, _ = self.encoder(_check_input(x, self.encoder.input_size))  # (T, B, H)
        if self.readout_kind == "last":
            return self.readout(h_seq[-1])  # (B, Q)
        return self.readout(h_seq)  # (T, B, Q)

    @classmethod
    def for_task(
        cls, task, cell: str | nn.Module, hidden_size: int, memory_bias: float | None = None
    ) -> SequenceModel:
        """A model sized for ``task`` (a ``companion.tasks.Task``: its D, Q and readout kind).

        ``memory_bias``, if given, is the initial bias of the gate that keeps the state (the
        LSTM's f, the GRU's z), set by ``companion.init.set_memory_bias_``.
        """
        model = cls(task.input_size, hidden_size, task.output_size, cell, readout=task.readout)
        return model if memory_bias is None else init.set_memory_bias_(model, memory_bias)


class LanguageModel(SequenceModel):
    """A character language model: embedding, recurrent encoder, readout over the vocabulary.

    Args:
        vocab_size: V, the number of symbols (ids in [0, V)).
        hidden_size: H, units per layer.
        cell: 'rnn' (tanh), 'gru' or 'lstm' (``torch.nn`` modules, time-major).
        embedding_size: D, the width of the learned embedding ``embedding`` (V, D).
        num_layers: stacked layers; layer l > 1 reads layer l - 1's states.
        dropout: probability of dropout on the states passed between layers (torch's
            placement, Zaremba et al. 2014); it needs ``num_layers`` >= 2.
        forget_bias: for 'lstm', the initial forget-gate bias (``companion.init``'s
            ``set_memory_bias_``; 1 by default, Jozefowicz et al. 2015); None leaves torch's
            initialisation. Ignored by the other cells, which keep torch's.

    ``forward(ids, state=None)`` maps ids (T, B) to ``(logits, state)``, logits (T, B, V),
    state as the encoder returns it, so that ``companion.train.train(..., carry_state=True)``
    can carry it across windows. Raises ValueError for an unknown cell, non-positive sizes, a
    dropout outside [0, 1) or with one layer; TypeError for ids that are not integers.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        cell: str = "lstm",
        embedding_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        forget_bias: float | None = 1.0,
    ) -> None:
        V = checks.positive_int("vocab_size", vocab_size)
        H = checks.positive_int("hidden_size", hidden_size)
        D = checks.positive_int("embedding_size", embedding_size)
        L = checks.positive_int("num_layers", num_layers)
        q = checks.number("dropout", dropout, low=0.0)
        if q >= 1 or (q > 0 and L == 1):
            raise ValueError(f"dropout must be in [0, 1) and needs num_layers >= 2; got {q}, {L}")
        family = families.get(checks.one_of("cell", cell, tuple(families.FAMILIES)))
        encoder = family.torch_class()(D, H, num_layers=L, dropout=q, batch_first=False)
        super().__init__(D, H, V, cell=encoder, readout="all")
        self.cell = cell
        self.embedding = nn.Embedding(V, D)
        if cell == "lstm" and forget_bias is not None:
            init.set_memory_bias_(self, forget_bias)

    def forward(self, ids: torch.Tensor, state=None) -> tuple[torch.Tensor, object]:
        """ids (T, B) integers -> (logits (T, B, V), state)."""
        if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.dim() != 2:
            raise TypeError(
                f"ids must be an integer tensor of shape (T, B); got "
                f"{getattr(ids, 'dtype', type(ids).__name__)} {tuple(getattr(ids, 'shape', ()))}"
            )
        h_seq, state = self.encoder(self.embedding(ids.long()), state)  # (T, B, H)
        return self.readout(h_seq), state  # (T, B, V)

    @staticmethod
    def count(vocab_size: int, hidden_size: int, cell: str, embedding_size: int = 32,
              num_layers: int = 1) -> int:  # fmt: skip
        """Parameters of ``LanguageModel(V, H, cell, D, L)``, without building it::

            V D  +  count(D, H) + (L - 1) count(H, H)  +  H V + V

        with ``count`` the family's layer count (``companion.families.Family.count``).
        """
        V, H, D = vocab_size, hidden_size, embedding_size
        family = families.get(checks.one_of("cell", cell, tuple(families.FAMILIES)))
        return V * D + family.count(D, H) + (num_layers - 1) * family.count(H, H) + H * V + V


def hidden_size_for(
    budget: int, vocab_size: int, cell: str, embedding_size: int = 32, num_layers: int = 1
) -> int:
    """The H whose ``LanguageModel`` has the parameter count closest to ``budget``.

    The count grows with H (quadratically), so a scan up to the first H past the budget finds
    it; equal counts across cells make a comparison fair in size. A budget below the count at
    H = 1 gives H = 1. Raises TypeError or ValueError for a budget that is not a positive
    integer, ValueError for an unknown cell.
    """
    budget = checks.positive_int("budget", budget)
    H, best = 1, None
    while True:
        n = LanguageModel.count(vocab_size, H, cell, embedding_size, num_layers)
        if best is None or abs(n - budget) < abs(best[1] - budget):
            best = (H, n)
        if n >= budget:
            return best[0]
        H += 1


@torch.no_grad()
def stream_log_probs(
    model: LanguageModel, ids: np.ndarray, streams: int = 64, warmup: int = 200
) -> np.ndarray:
    """Next-character log-probabilities (nats) of a long text: shape (N - 1, V), float64.

    Row t is log p(ids[t + 1] = w | ids[:t + 1]) for every w. The text is read as ``streams``
    contiguous pieces side by side (one batch), each piece first reading the ``warmup``
    characters before it from a zero state, so that no scored position starts cold except the
    first piece, which starts at the text's start; the model runs in eval mode (no dropout).
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or ids.size < 2:
        raise ValueError(f"ids must be a 1-d integer array of 2 or more; got {ids.shape}")
    streams = checks.positive_int("streams", streams)
    warmup = checks.integer("warmup", warmup, minimum=0)
    n = ids.size - 1  # positions scored
    L = -(-n // streams)  # piece length; the last piece is padded, then cut
    W = min(warmup, L)
    x = np.concatenate([ids[:-1], np.zeros(streams * L - n, dtype=ids.dtype)])
    rows = np.arange(1, streams)[None, :] * L - W + np.arange(W + L)[:, None]  # (W + L, S - 1)
    with evaluation_mode(model):
        first, _ = model(torch.as_tensor(x[:L, None]))  # piece 0, from the text's start
        rest, _ = model(torch.as_tensor(x[rows]))  # (W + L, S - 1, V): warm-up, then scored
    logits = torch.cat([first, rest[W:]], dim=1)  # (L, S, V)
    out = torch.log_softmax(logits.double(), dim=-1)
    return out.permute(1, 0, 2).reshape(streams * L, -1)[:n].numpy()


@torch.no_grad()
def sample(
    model: LanguageModel, vocab, prompt: str, n: int, temperature: float, rng: np.random.Generator
) -> str:
    """``n`` characters drawn one at a time after ``prompt`` (a ``companion.corpus.Vocab``'s text).

    The state is warmed up on the prompt; each next character is drawn from
    softmax(logits / temperature) (float64, with ``rng``) and fed back. A temperature below 1
    sharpens the distribution, above 1 flattens it.
    """
    n = checks.positive_int("n", n)
    tau = checks.positive_number("temperature", temperature)
    rng = checks.generator(rng)
    ids = vocab.encode(prompt)
    if ids.size == 0:
        raise ValueError("the prompt must hold at least one character")
    out = []
    with evaluation_mode(model):
        logits, state = model(torch.as_tensor(ids[:, None]))  # (T, 1, V)
        for _ in range(n):
            z = logits[-1, 0].double().numpy() / tau
            p = np.exp(z - z.max())
            c = int(rng.choice(p.size, p=p / p.sum()))
            out.append(c)
            logits, state = model(torch.tensor([[c]]), state)
    return vocab.decode(out)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _encoder(cell: object, D: int, H: int, nonlinearity: str) -> nn.Module:
    """The encoder: built from a family name, or the caller's module with its sizes checked."""
    checks.one_of("nonlinearity", nonlinearity, ("tanh", "relu"))
    if not isinstance(cell, str | nn.Module):
        raise TypeError(f"cell must be a family name or a module; got {type(cell).__name__}")
    if cell != "rnn" and nonlinearity != "tanh":
        raise ValueError(f"nonlinearity applies to cell='rnn' only; got cell={cell!r}")
    if isinstance(cell, str):
        family = families.get(checks.one_of("cell", cell, tuple(families.FAMILIES)))
        kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        return family.torch_class()(D, H, batch_first=False, **kwargs)
    got = (getattr(cell, "input_size", None), getattr(cell, "hidden_size", None))
    if got != (D, H):
        raise ValueError(
            f"the encoder {type(cell).__name__} must have (input_size, hidden_size) = "
            f"(D, H) = ({D}, {H}); got {got}"
        )
    if getattr(cell, "batch_first", False):
        raise ValueError(
            f"the encoder {type(cell).__name__} has batch_first=True; SequenceModel is "
            f"time-major, x (T, B, D): build the encoder with batch_first=False"
        )
    return cell


def _check_input(x: object, D: int) -> torch.Tensor:
    """``x`` if it is a tensor of shape (T, B, D) with T, B >= 1."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (T, B, D); got {type(x).__name__}")
    if x.dim() != 3 or x.shape[-1] != D or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must have shape (T, B, D={D}) with T, B >= 1; got {tuple(x.shape)}")
    return x
