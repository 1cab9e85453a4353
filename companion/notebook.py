"""The setup helper that every notebook calls in its first code cell."""

from __future__ import annotations

import os
import random

import numpy as np

_thread_limiter = None


def setup(seed: int = 0, threads: int = 1, torch: bool = True) -> np.random.Generator:
    """Pin the numerical environment, seed every generator, fix the threads, apply the style.

    - pins torch's processor-dependent kernels (oneDNN, ATen, oneMKL) at AVX2 through
      ``companion.numerics.apply``, so that the same code prints the same numbers on any
      x86-64 processor with AVX2; it must run before any torch operation (it raises
      ``RuntimeError`` otherwise). ``$COMPANION_NUMERICS`` names another of
      ``companion.numerics.ENVIRONMENTS`` (``make test-perturbed`` uses that);
    - seeds Python's ``random``, numpy's legacy global generator and (if ``torch``) torch;
    - limits BLAS/OpenMP and torch to ``threads`` threads. One thread is the default: it is
      faster than two for the course's model sizes on a 2-core machine, and it makes printed
      numbers independent of the reader's core count;
    - applies ``companion.style.use_book_style``.

    Returns a fresh ``numpy.random.Generator`` seeded with ``seed``; notebooks draw from it.
    """
    global _thread_limiter
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if not isinstance(threads, int | np.integer) or threads < 1:
        raise ValueError(f"threads must be a positive integer; got {threads!r}")

    from threadpoolctl import threadpool_limits

    from companion import numerics

    if torch:
        import torch as _torch  # importing runs no kernel; numerics.apply checks what it can
    numerics.apply()

    os.environ["OMP_NUM_THREADS"] = str(threads)  # for child processes
    _thread_limiter = threadpool_limits(limits=threads)  # this process's BLAS and OpenMP

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (seed the legacy global generator that libraries use)
    if torch:
        _torch.manual_seed(seed)
        _torch.set_num_threads(threads)

    from companion.style import use_book_style

    use_book_style()
    return np.random.default_rng(seed)
