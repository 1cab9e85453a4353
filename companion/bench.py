"""Time the recurrent layers' forward + full backward pass: numpy against torch.

Run ``python -m companion.bench`` (``--help`` for the options). For each family (LSTM, GRU,
and with ``--family rnn`` the Elman RNN) and each size (B, T, D, H) it times, in one process
and interleaved (one call of each implementation per round, so that a slow spell of the
machine hits all of them alike):

- ``numpy``: the plain reference path, ``companion.ref.lstm`` (``gru``, ``rnn``);
- ``numpy fast``: the rearranged path, ``companion.ref.lstm_fast`` (``gru_fast``, ``rnn_fast``);
- ``torch eqs``: the torch module written from the equations, ``companion.nn.LSTM`` (``GRU``);
- ``torch.nn``: ``torch.nn.LSTM`` (``GRU``, ``RNN``), the library's own kernel;
- ``matmul only``: the matrix products of the fast path and nothing else, a lower bound on
  its time.

Each call is a forward pass over the sequence and a backward pass from a fixed gradient of
every output h_t to every input and parameter. It prints the median of each, its ratio to
``torch.nn``, the achieved GFLOP/s and the fraction of the machine's float32 matrix-product
throughput (measured here as the best of a few 1024 x 1024 products). The flop count is that
of the matrix products: a layer with G blocks (G = 4 for the LSTM, 3 for the GRU, 1 for the
RNN) does 2 G H (D + H) flops per sample and step forward and twice that backward, so
6 G H (D + H) in all: 24 H (D + H) for the LSTM, 18 H (D + H) for the GRU.

One thread by default: for these sizes one thread is faster than two on a 2-core machine.
By default the command times the machine's own kernels (``--numerics native``): the widest
instructions that oneDNN, torch and oneMKL find. ``--numerics pinned`` times them in the
book's numerical environment (``companion.numerics``), the one the notebooks run in.

Which implementation wins depends on the processor: oneDNN (behind ``torch.nn.LSTM``) generates
AVX-512 code where the processor has it, while numpy's OpenBLAS picks its kernels by processor
model and may use AVX2 ones. So every table is printed under :func:`machine`, the label of the
processor and kernels that produced it, and :func:`conclusions` states the speed claims of
chapter 8 so that a quiet run of the command can test them on any machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from companion import checks
from companion.families import FAMILIES
from companion.families import get as family_of

#: The three standard sizes (B, T, D, H), a mid-sized batch, one long sequence and a large layer
SIZES: tuple[tuple[int, int, int, int], ...] = (
    (32, 100, 64, 128),
    (1, 500, 32, 64),
    (128, 50, 128, 256),
)
IMPLEMENTATIONS = ("numpy", "numpy fast", "torch eqs", "torch.nn", "matmul only")


def flops(family: str, B: int, T: int, D: int, H: int) -> int:
    """Flops of the matrix products of forward + backward: 6 G H (D + H) per sample and step.

    G is the family's number of blocks (``companion.families``): 4 for "lstm", 3 for "gru",
    1 for "rnn". Raises ValueError for another family, TypeError or ValueError for a size
    that is not a positive integer.
    """
    G = family_of(family).G
    B, T, D, H = _check_size((B, T, D, H))
    return 6 * G * H * (D + H) * B * T


def _check_size(size: object) -> tuple[int, int, int, int]:
    if not isinstance(size, tuple | list) or len(size) != 4:
        raise ValueError(f"a size must be four positive integers (B, T, D, H); got {size!r}")
    return tuple(checks.positive_int(n, v) for n, v in zip("BTDH", size, strict=True))


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(n: int = 1024, repeats: int = 5) -> float:
    """The machine's float32 matrix-product throughput in GFLOP/s: the best of ``repeats``
    products of two n x n matrices (2 n^3 flops each), with the current thread limit."""
    n, repeats = checks.positive_int("n", n), checks.positive_int("repeats", repeats)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)
    best = min(_time_once(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def machine() -> str:
    """A one-line label of what produced a timing: the processor, whether it has AVX-512,
    torch's kernel level (ATen capability; oneDNN on or off, and its ISA cap if one is set)
    and numpy's BLAS kernels."""
    import os
    import platform

    import torch

    model, avx512 = platform.machine(), False
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        model = next(
            (line.split(":", 1)[1].strip() for line in info.splitlines() if "model name" in line),
            model,
        )
        avx512 = " avx512f" in info
    except OSError:
        pass
    onednn = "on" if torch.backends.mkldnn.enabled else "off"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    onednn += f", capped at {cap}" if cap and onednn == "on" else ""
    return (
        f"{model} ({'with' if avx512 else 'without'} AVX-512); torch kernels "
        f"{torch.backends.cpu.get_cpu_capability()}, oneDNN {onednn}; numpy's BLAS "
        f"{blas_kernels()}"
    )


def blas_kernels() -> str:
    """The BLAS library numpy uses and the kernels it chose for this CPU, e.g. 'openblas
    0.3.31 (Haswell kernels)': OpenBLAS picks its kernels by CPU model at start-up."""
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    blas.sort(key=lambda i: "numpy" not in i.get("filepath", ""))  # numpy's own first
    for info in blas:
        arch = info.get("architecture")
        name = f"{info.get('internal_api')} {info.get('version')}"
        return f"{name} ({arch} kernels)" if arch else name
    return "unknown"


def _time_once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def matmul_only(family: str, B: int, T: int, D: int, H: int) -> Callable[[], None]:
    """A function that does the fast path's matrix products, with its shapes, and nothing else.

    Forward: X W_ih^T over all steps, then h_{t-1} W_hh^T per step; backward: da_t W_hh per
    step, then dA^T X, dA^T H_prev and dA W_ih over all steps. Outputs are written into
    buffers allocated here, so the function measures the products alone.
    """
    B, T, D, H = _check_size((B, T, D, H))
    GH = family_of(family).G * H
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    X, Hp, dA = f32(T * B, D), f32(T * B, H), f32(T * B, GH)
    W_ih, W_hh, W_hh_T = f32(GH, D), f32(GH, H), f32(H, GH)
    A, gh, dh = np.empty((T * B, GH), np.float32), np.empty((B, GH), np.float32), f32(B, H)
    dW_ih, dW_hh, dx = f32(GH, D), f32(GH, H), f32(T * B, D)
    h_rows, da_rows = Hp.reshape(T, B, H), dA.reshape(T, B, GH)

    def run() -> None:
        np.matmul(X, W_ih.T, out=A)
        for t in range(T):
            np.matmul(h_rows[t], W_hh_T, out=gh)
        for t in range(T):
            np.matmul(da_rows[t], W_hh, out=dh)
        np.matmul(dA.T, X, out=dW_ih)
        np.matmul(dA.T, Hp, out=dW_hh)
        np.matmul(dA, W_ih, out=dx)

    return run


def _numpy_call(module, x, params, dh_seq) -> Callable[[], None]:
    def run() -> None:
        _, _, cache = module.forward(x, None, params)
        module.backward(dh_seq, None, cache)

    return run


def _torch_call(module, x, dh_seq) -> Callable[[], None]:
    import torch

    xt = torch.from_numpy(x).requires_grad_(True)
    dht = torch.from_numpy(dh_seq)

    def run() -> None:
        xt.grad = None
        module.zero_grad(set_to_none=True)
        h_seq = module(xt)[0]
        h_seq.backward(dht)

    return run


def implementations(family: str, size: Sequence[int], seed: int = 0) -> dict[str, Callable]:
    """The functions timed for one family and size, keyed by the names of ``IMPLEMENTATIONS``
    (no ``torch eqs`` for the RNN, which has no module written from the equations here).

    All of them start from the same float32 weights, input and output gradient.
    """
    from companion.interop import params_to_torch

    B, T, D, H = _check_size(size)
    fam = family_of(family)
    plain, fast = fam.ref(), fam.ref(fast=True)
    rng = np.random.default_rng(seed)
    params = plain.init_params(D, H, rng, dtype=np.float32)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    dh_seq = rng.standard_normal((T, B, H)).astype(np.float32)
    library = fam.torch_class()(D, H)
    params_to_torch(params, library)
    fns = {
        "numpy": _numpy_call(plain, x, params, dh_seq),
        "numpy fast": _numpy_call(fast, x, params, dh_seq),
    }
    if fam.nn_name is not None:
        eqs = fam.nn_class()(D, H)
        eqs.load_state_dict(library.state_dict())
        fns["torch eqs"] = _torch_call(eqs, x, dh_seq)
    fns["torch.nn"] = _torch_call(library, x, dh_seq)
    fns["matmul only"] = matmul_only(family, B, T, D, H)
    return fns


@dataclass(frozen=True)
class Timing:
    """The median time of one implementation on one family and size."""

    family: str
    size: tuple[int, int, int, int]
    implementation: str
    seconds: float
    gflops: float  # achieved: the flops of the matrix products over the median time
    peak_fraction: float  # gflops over the machine's measured matrix-product throughput


def run(
    families: Sequence[str] = ("lstm", "gru"),
    sizes: Sequence[Sequence[int]] = SIZES,
    repeats: int = 15,
    threads: int = 1,
    peak: float | None = None,
) -> tuple[list[Timing], float]:
    """Time every implementation on every family and size; returns ``(timings, peak)``.

    Implementations are interleaved: each of ``repeats`` rounds calls each once (after one
    warm-up call each), and the median of the rounds is kept. ``peak`` is the machine's
    float32 matrix-product throughput in GFLOP/s, measured by ``matmul_peak`` when None.
    """
    import torch
    from threadpoolctl import threadpool_limits

    repeats = checks.positive_int("repeats", repeats)
    threads = checks.positive_int("threads", threads)
    families = [family_of(f).name for f in families]
    sizes = [_check_size(s) for s in sizes]
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    timings = []
    try:
        with threadpool_limits(limits=threads):
            peak = matmul_peak() if peak is None else peak
            for family in families:
                for size in sizes:
                    fns = implementations(family, size)
                    for fn in fns.values():
                        fn()  # warm-up
                    times = {name: [] for name in fns}
                    for _ in range(repeats):
                        for name, fn in fns.items():
                            times[name].append(_time_once(fn))
                    work = flops(family, *size) / 1e9
                    for name, ts in times.items():
                        seconds = statistics.median(ts)
                        timings.append(
                            Timing(
                                family, size, name, seconds, work / seconds, work / seconds / peak
                            )
                        )
    finally:
        torch.set_num_threads(torch_threads)
    return timings, peak


def table(timings: Sequence[Timing]):
    """The timings as a pandas DataFrame, one row per family, size and implementation, with
    the median in milliseconds, the ratio to ``torch.nn`` of the same family and size, the
    GFLOP/s and the fraction of the matrix-product peak."""
    import pandas as pd

    rows = []
    reference = {(t.family, t.size): t.seconds for t in timings if t.implementation == "torch.nn"}
    for t in timings:
        rows.append(
            {
                "family": t.family.upper(),
                "B, T, D, H": ", ".join(map(str, t.size)),
                "implementation": t.implementation,
                "ms": 1e3 * t.seconds,
                "vs torch.nn": t.seconds / reference[(t.family, t.size)],
                "GFLOP/s": t.gflops,
                "of peak": t.peak_fraction,
            }
        )
    return pd.DataFrame(rows).set_index(["family", "B, T, D, H", "implementation"])


def ratio(timings: Sequence[Timing], family: str, size, numerator: str, denominator: str) -> float:
    """Median time of ``numerator`` over that of ``denominator`` for one family and size."""
    by_name = {
        t.implementation: t.seconds for t in timings if t.family == family and t.size == tuple(size)
    }
    for name in (numerator, denominator):
        if name not in by_name:
            raise KeyError(
                f"no timing of {name!r} for {family} at {tuple(size)}; have {sorted(by_name)}"
            )
    return by_name[numerator] / by_name[denominator]


def summary(timings: Sequence[Timing]) -> list[str]:
    """One line per family and size: fast numpy's time over torch.nn's and plain numpy's over
    fast numpy's, and the share of fast numpy's time that its matrix products alone take."""
    lines = []
    for family, size in dict.fromkeys((t.family, t.size) for t in timings):
        vs_torch = ratio(timings, family, size, "numpy fast", "torch.nn")
        speedup = ratio(timings, family, size, "numpy", "numpy fast")
        bound = ratio(timings, family, size, "matmul only", "numpy fast")
        where = ", ".join(map(str, size))
        lines.append(
            f"{family.upper():4s} {where:<17} fast/torch.nn {vs_torch:5.2f}   "
            f"plain/fast {speedup:5.2f}   products/fast {bound:4.0%}"
        )
    return lines


def _seconds(timings: Sequence[Timing], family: str, size, name: str) -> float:
    return next(
        t.seconds
        for t in timings
        if (t.family, t.size, t.implementation) == (family, tuple(size), name)
    )


def conclusions(timings: Sequence[Timing]) -> dict[str, bool]:
    """The book's claims about speed (chapters 5 and 8), each tested on ``timings`` of the
    three standard sizes (:data:`SIZES`) for the LSTM and the GRU: claim -> whether it held
    in this run. They are measurements of one machine at one moment, so they belong in a
    quiet run of ``python -m companion.bench``, never in a checked notebook output."""
    small, single, large = SIZES

    def r(family, size, a, b):
        return ratio(timings, family, size, a, b)

    return {
        "B = 1: fast numpy over 3x faster than plain (LSTM, GRU)": min(
            r(f, single, "numpy", "numpy fast") for f in ("lstm", "gru")
        )
        > 3,
        "B = 32, 128: fast and plain numpy within 25% (LSTM)": all(
            0.8 < r("lstm", s, "numpy", "numpy fast") < 1.25 for s in (small, large)
        ),
        "torch.nn.LSTM faster than fast numpy at every size": all(
            r("lstm", s, "numpy fast", "torch.nn") > 1 for s in SIZES
        ),
        "B = 32: torch.nn.LSTM faster than numpy's products alone": r(
            "lstm", small, "matmul only", "torch.nn"
        )
        > 1,
        "B = 1, 32: fast numpy faster than torch.nn.GRU": all(
            r("gru", s, "numpy fast", "torch.nn") < 1 for s in (small, single)
        ),
        "B = 32: torch.nn.LSTM faster than torch.nn.GRU (chapter 5)": _seconds(
            timings, "lstm", small, "torch.nn"
        )
        < _seconds(timings, "gru", small, "torch.nn"),
        "B = 32, 128: products over half of fast numpy's time (LSTM)": all(
            r("lstm", s, "matmul only", "numpy fast") > 0.5 for s in (small, large)
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m companion.bench",
        description="Time forward + backward of the numpy and torch recurrent layers.",
    )
    parser.add_argument("--family", nargs="+", choices=sorted(FAMILIES), default=["lstm", "gru"])
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    parser.add_argument(
        "--size",
        nargs=4,
        type=int,
        action="append",
        metavar=("B", "T", "D", "H"),
        help="a size to time (repeat the flag for several); default the three standard sizes",
    )
    parser.add_argument(
        "--numerics",
        choices=["native", "pinned", "sse41", "no-onednn"],
        default="native",
        help="numerical environment (companion.numerics): the machine's own kernels (default), "
        "or the book's pinned ones",
    )
    args = parser.parse_args(argv)
    from companion import numerics

    numerics.apply(args.numerics)  # before torch runs a kernel
    timings, peak = run(args.family, args.size or SIZES, args.repeats, args.threads)
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_rows", None):
        print(machine())
        print(f"float32, {args.threads} thread(s), median of {args.repeats} interleaved rounds")
        print(f"matrix-product peak: {peak:.0f} GFLOP/s (1024 x 1024 x 1024)\n")
        print(table(timings).to_string(float_format=lambda v: f"{v:.2f}"))
        print()
        print("fast/torch.nn: numpy fast's time over torch.nn's; plain/fast: plain numpy's over")
        print("numpy fast's; products/fast: the share of numpy fast's time its products take\n")
        print("\n".join(summary(timings)))
        standard = {(f, s) for f in ("lstm", "gru") for s in SIZES}
        if standard <= {(t.family, t.size) for t in timings}:
            print("\nthe book's claims about speed (chapters 5 and 8), on this run:")
            for claim, holds in conclusions(timings).items():
                print(f"{holds!s:>5}  {claim}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
