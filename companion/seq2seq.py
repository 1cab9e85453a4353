"""An encoder-decoder with GRUs, with or without attention, for chapter 10.

Source ids x_1 .. x_S (padded, with their lengths), target ids y_1 .. y_n; ids 0, 1, 2 are
the padding, the start (BOS) and the end (EOS) symbols, as in ``companion.numerals``::

    encoder   e_j = E_src x_j;   h_j = [h_j^fwd ; h_j^bwd] = BiGRU(e)_j      (S, B, 2H)
              m = [h_S^fwd ; h_1^bwd]                     the summary, each at its own end
    bridge    s_0 = tanh(W_b m + b_b)                                          (B, H_dec)
    decoder   s_t = GRU(E_tgt y_{t-1}, s_{t-1}),  y_0 = BOS                    (H_dec = 2H)
    context   c_t = m                                       without attention (fixed)
              c_t = sum_j a_tj h_j,  a_t = softmax_j(score(s_t, h_j))     with attention
    readout   s~_t = tanh(W_c [c_t ; s_t] + b_c);  p(y_t | y_<t, x) = softmax(W_o s~_t + b_o)

The encoder-decoder is Sutskever et al. (2014) and Cho et al. (2014), with Cho's fixed context
fed to every readout. Attention scores the decoder's current state s_t, after its GRU step,
as in Luong et al. (2015) without their input feeding; Bahdanau et al. (2015) score s_{t-1}
before the step instead. Luong's placement lets teacher-forced training run the decoder's GRU
over the whole target at once. The scores come from ``companion.nn.attention``: additive
(Bahdanau's) or dot-product (Luong's "dot", which needs H_dec = 2H and adds no parameter, so
that the models with and without it have the same parameter count).

Teacher forcing feeds the true y_{t-1}; with ``sampling`` p > 0 each fed token is instead,
with probability p, drawn from the model's own distribution at t - 1 (scheduled sampling,
Bengio et al. 2015), which needs the steps one at a time. Decoding: ``greedy`` here, beam
search through ``companion.decoding``. This module imports torch and never matplotlib.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from companion import checks, decoding
from companion.nn import GRU, Stacked
from companion.nn.attention import AdditiveAttention, DotProductAttention
from companion.nn.base import check_lengths
from companion.numerals import BOS, EOS, PAD

ATTENTION = (None, "additive", "dot")


class Memory(NamedTuple):
    """What the decoder reads of the source: the states h (S, B, 2H), the summary m
    (B, 2H), and the mask (S, B), True at real source positions."""

    states: torch.Tensor
    summary: torch.Tensor
    mask: torch.Tensor

    def repeat(self, k: int) -> Memory:
        """Each source repeated k times along the batch (b -> b k .. b k + k - 1), for a beam
        of k hypotheses per source."""
        return Memory(
            self.states.repeat_interleave(k, dim=1),
            self.summary.repeat_interleave(k, dim=0),
            self.mask.repeat_interleave(k, dim=1),
        )


class Encoder(nn.Module):
    """Embedding and a bidirectional GRU (``companion.nn.Stacked``) over a padded source.

    ``forward(src, lengths) -> Memory``: src (S, B) int64 ids padded with PAD, lengths (B,),
    each in [1, S]; the reverse direction starts at each source's last token, so padding
    never enters a real position's state (as torch's packed sequences).
    """

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD)
        self.rnn = Stacked(GRU, embedding_size, hidden_size, bidirectional=True)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> Memory:
        src = _ids("src", src, self.embedding.num_embeddings)
        lengths = check_lengths(lengths, src)
        states, h_n = self.rnn(self.embedding(src), lengths=lengths)  # (S, B, 2H), (2, B, H)
        summary = torch.cat([h_n[0], h_n[1]], dim=-1)  # [h_S^fwd ; h_1^bwd] (B, 2H)
        mask = torch.arange(src.shape[0])[:, None] < lengths  # (S, B)
        return Memory(states, summary, mask)


class Decoder(nn.Module):
    """A GRU decoder started from the encoder's summary, with a fixed or an attended context.

    ``forward(y_in, state, memory) -> (logits, state, weights)``: y_in (T, B) the tokens fed
    (BOS first), state (1, B, H_dec), logits (T, B, V), weights (T, B, S) or None without
    attention. ``start(memory)`` gives s_0. The equations are in the module docstring.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        hidden_size: int,
        memory_size: int,
        attention: str | None = None,
        attention_size: int | None = None,
    ) -> None:
        super().__init__()
        checks.one_of("attention", attention, ATTENTION)
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD)
        self.bridge = nn.Linear(memory_size, hidden_size)
        self.rnn = GRU(embedding_size, hidden_size)
        if attention == "additive":
            self.attention = AdditiveAttention(
                hidden_size, memory_size, attention_size or hidden_size
            )
        elif attention == "dot":
            if hidden_size != memory_size:
                raise ValueError(
                    f"dot-product attention needs the decoder's hidden size ({hidden_size}) "
                    f"to equal the memory size ({memory_size})"
                )
            self.attention = DotProductAttention()
        else:
            self.attention = None
        self.combine = nn.Linear(memory_size + hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def start(self, memory: Memory) -> torch.Tensor:
        return torch.tanh(self.bridge(memory.summary))[None]  # s_0 (1, B, H_dec)

    def forward(self, y_in: torch.Tensor, state: torch.Tensor, memory: Memory):
        s, state = self.rnn(self.embedding(y_in), state)  # (T, B, H_dec), (1, B, H_dec)
        if self.attention is None:
            context, weights = memory.summary.expand(s.shape[0], -1, -1), None  # (T, B, 2H)
        else:
            context, weights = self.attention(s, memory.states, memory.mask)  # (T, B, 2H)
        s_tilde = torch.tanh(self.combine(torch.cat([context, s], dim=-1)))  # (T, B, H_dec)
        return self.out(s_tilde), state, weights


class Seq2Seq(nn.Module):
    """``Encoder`` and ``Decoder`` with H_dec = 2H (the memory size).

    Args:
        src_vocab, tgt_vocab: the vocabulary sizes, specials included.
        embedding_size: E of both embeddings.  hidden_size: H of each encoder direction.
        attention: None (the fixed context m), ``'additive'`` or ``'dot'``.
        attention_size: A of the additive attention (default H_dec).

    ``forward(src, lengths, y_in, sampling=0.0) -> logits (T, B, V)``: teacher forcing, or
    scheduled sampling with probability ``sampling`` (a float or 0-d tensor in [0, 1]).
    After a call, ``self.weights`` holds the attention weights (T, B, S) (None without).

    Raises:
        ValueError, TypeError: ids outside the vocabulary or not integers, lengths outside
            [1, S] (an empty source), a sampling probability outside [0, 1].
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        embedding_size: int = 32,
        hidden_size: int = 64,
        attention: str | None = None,
        attention_size: int | None = None,
    ) -> None:
        super().__init__()
        for name, v in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
            checks.integer(name, v, 4)
        self.encoder = Encoder(src_vocab, embedding_size, hidden_size)
        H_dec = 2 * hidden_size
        self.decoder = Decoder(tgt_vocab, embedding_size, H_dec, H_dec, attention, attention_size)
        self.weights: torch.Tensor | None = None

    def forward(
        self, src: torch.Tensor, lengths: torch.Tensor, y_in: torch.Tensor, sampling=0.0
    ) -> torch.Tensor:
        memory = self.encoder(src, lengths)
        y_in = _ids("y_in", y_in, self.decoder.embedding.num_embeddings)
        if y_in.shape[1] != src.shape[1]:
            raise ValueError(f"y_in (T, B) must have B = {src.shape[1]}; got {tuple(y_in.shape)}")
        p = checks.number("sampling", float(sampling), 0.0, 1.0)
        state = self.decoder.start(memory)
        if p == 0.0:
            logits, _, self.weights = self.decoder(y_in, state, memory)
            return logits
        steps, weights, fed = [], [], y_in[0]
        for t in range(y_in.shape[0]):
            if t > 0:  # the model's own sample replaces the true token with probability p
                own = torch.multinomial(F.softmax(steps[-1][0].detach(), -1), 1)[:, 0]
                fed = torch.where(torch.rand(own.shape) < p, own, y_in[t])
            logits_t, state, w = self.decoder(fed[None], state, memory)
            steps.append(logits_t)
            weights.append(w)
        self.weights = None if weights[0] is None else torch.cat(weights)
        return torch.cat(steps)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, lengths: torch.Tensor, max_len: int):
        """Greedy decoding: y_t = argmax p(y | y_<t, x), fed back, for ``max_len`` steps at
        most; returns (tokens (B, max_len) int64, EOS then PAD after each end; weights
        (max_len, B, S) or None)."""
        max_len = checks.positive_int("max_len", max_len)
        memory = self.encoder(src, lengths)
        state, fed = self.decoder.start(memory), torch.full((src.shape[1],), BOS)
        tokens, weights = [], []
        done = torch.zeros(src.shape[1], dtype=torch.bool)
        for _ in range(max_len):
            logits, state, w = self.decoder(fed[None], state, memory)
            fed = torch.where(done, PAD, logits[0].argmax(-1))
            tokens.append(fed)
            weights.append(w)
            done |= fed == EOS
            if bool(done.all()):
                break
        tokens = torch.stack(tokens, dim=1)
        tokens = F.pad(tokens, (0, max_len - tokens.shape[1]), value=PAD)
        return tokens, None if weights[0] is None else torch.cat(weights)

    @torch.no_grad()
    def beam_search(
        self, src: torch.Tensor, lengths: torch.Tensor, width: int, max_len: int, alpha=0.0
    ) -> list[list[decoding.Hypothesis]]:
        """``companion.decoding.beam_search`` with this decoder; one best-first list of
        finished hypotheses per source."""
        width = checks.positive_int("width", width)
        memory = self.encoder(src, lengths)
        start, beams = self.decoder.start(memory), memory.repeat(width)

        def step(tokens, state):
            logits, state, _ = self.decoder(tokens[None], state, beams)
            return F.log_softmax(logits[0], -1), state

        return decoding.beam_search(step, start, BOS, EOS, width, max_len, alpha)


def _ids(name: str, ids: object, vocab_size: int) -> torch.Tensor:
    """``ids`` if it is an integer tensor (T, B), T >= 1, of ids in [0, vocab_size)."""
    if not isinstance(ids, torch.Tensor) or ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer torch.Tensor (T, B) of token ids")
    if ids.dim() != 2 or ids.shape[0] == 0:
        raise ValueError(f"{name} must have shape (T, B) with T >= 1; got {tuple(ids.shape)}")
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise ValueError(
            f"{name} must hold ids in [0, {vocab_size}); got {int(ids.min())} .. {int(ids.max())}"
        )
    return ids.long()
