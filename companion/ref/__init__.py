"""Numpy reference implementations of recurrent cells.

Every family module (``rnn``, ``lstm``, ``gru``) has the same calling convention::

    forward(x, state0, params, ...) -> (h_seq, state_T, cache)
    backward(dh_seq, dstate_T, cache) -> (dx, dstate0, grads)

with ``x`` of shape (T, B, D), ``h_seq`` of shape (T, B, H) and ``params`` a dict with
``W_ih`` (G*H, D), ``W_hh`` (G*H, H), ``b_ih`` (G*H,), ``b_hh`` (G*H,). This package never
imports torch. The LSTM's state is the pair (h, c), so its ``state0``, ``state_T`` and
``dstate_T`` are pairs of (B, H) arrays. The GRU's state is h alone; its ``forward`` takes
``reset=`` ('after', torch's, or 'before') and ``update=`` ('torch' or 'chung') keywords.

``rnn_fast``, ``lstm_fast`` and ``gru_fast`` compute the same functions and gradients with the
same calling convention (the GRU in torch's form only), rearranged for speed: one matrix
product per step in each direction, the rest hoisted out of the loops. The book's appendix on
performance measures each rearrangement; ``python -m companion.bench`` times them against torch.

``readout`` holds the linear readout o_t = W_hq h_t + b_q and the losses (mean squared error,
softmax cross-entropy), each with its gradient. ``attention`` holds additive and dot-product
attention with their hand-written backward passes, and ``ctc`` the CTC loss through its
forward recursion in log space, the collapse rule and best-path decoding.
"""

from companion.ref import (
    activations,
    attention,
    ctc,
    gru,
    gru_fast,
    lstm,
    lstm_fast,
    readout,
    rnn,
    rnn_fast,
)

__all__ = [
    "activations",
    "attention",
    "ctc",
    "gru",
    "gru_fast",
    "lstm",
    "lstm_fast",
    "readout",
    "rnn",
    "rnn_fast",
]
