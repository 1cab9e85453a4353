"""What the fast layers share: the weight and input gradients, computed after the backward loop.

With every step's pre-activation gradient stacked into dA (T*B rows), the sums over t of the
per-step products are single matrix products (chapter 8, eq-ch08-hoisted-gradients)::

    dW_ih = dA_x^T X,    dW_hh = dA_h^T H_prev,    db_ih, db_hh = sums of the rows,
    dx = dA_x W_ih

X stacks the inputs x_t and H_prev the states h_0..h_{T-1}. dA_x, the gradient that reaches
W_ih x_t + b_ih, and dA_h, the one that reaches W_hh h_{t-1} + b_hh, are one array for the
Elman cell and the LSTM; the GRU's differ in the n block (the reset sits between them).
"""

from __future__ import annotations

import numpy as np

#: From this many elements per step (B * H) on, the backward passes of ``lstm_fast`` and
#: ``gru_fast`` compute each step's factors inside their loop, while that step's values are in
#: the cache; below it, for all steps at once before the loop, which makes fewer calls.
#: Measured for the LSTM on a 2-core AMD EPYC with 1 MiB of L2 per core: at B * H = 4096 both
#: take the same time; at 32768 the loop is 20 ms faster of 200.
STEP_BY_STEP_MIN = 8192


def gradients(
    dA_x: np.ndarray, dA_h: np.ndarray, x: np.ndarray, h_prev: np.ndarray, W_ih: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(dx, grads)`` from dA_x and dA_h (each (T, B, G*H)), x (T, B, D) and h_prev (T, B, H).

    ``grads`` holds ``W_ih``, ``W_hh``, ``b_ih`` and ``b_hh``; when dA_h is dA_x, ``b_hh`` is
    a copy of ``b_ih``.
    """
    T, B, D = x.shape
    rows_x = dA_x.reshape(T * B, -1)
    rows_h = dA_h.reshape(T * B, -1)
    db_ih = rows_x.sum(axis=0)
    grads = {
        "W_ih": rows_x.T @ x.reshape(T * B, D),
        "W_hh": rows_h.T @ h_prev.reshape(T * B, -1),
        "b_ih": db_ih,
        "b_hh": db_ih.copy() if dA_h is dA_x else rows_h.sum(axis=0),
    }
    return (rows_x @ W_ih).reshape(T, B, D), grads
