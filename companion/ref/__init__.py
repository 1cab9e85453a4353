"""Numpy reference implementations of recurrent cells.

Every family module (``rnn`` now; ``lstm`` and ``gru`` later) has the same calling convention::

    forward(x, state0, params, ...) -> (h_seq, state_T, cache)
    backward(dh_seq, dstate_T, cache) -> (dx, dstate0, grads)

with ``x`` of shape (T, B, D), ``h_seq`` of shape (T, B, H) and ``params`` a dict with
``W_ih`` (G*H, D), ``W_hh`` (G*H, H), ``b_ih`` (G*H,), ``b_hh`` (G*H,). This package never
imports torch.

``readout`` holds the linear readout o_t = W_hq h_t + b_q and the losses (mean squared error,
softmax cross-entropy), each with its gradient.
"""

from companion.ref import activations, readout, rnn

__all__ = ["activations", "readout", "rnn"]
