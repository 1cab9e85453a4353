"""Schematic figures drawn with matplotlib: the unrolled network and the I/O topologies.

Drawn from code rather than shipped as images, so that the notebooks make every figure they
show and the labels use the book's notation.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from companion import checks
from companion.style import PALETTE

CELL, INPUT, OUTPUT = PALETTE[0], PALETTE[2], PALETTE[1]


def _box(ax: Axes, xy: tuple[float, float], text: str, color: str, w=0.8, h=0.55) -> None:
    x, y = xy
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.1",
            facecolor=color,
            edgecolor="black",
            linewidth=0.8,
            alpha=0.9,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=10, color="white")


def _arrow(ax: Axes, start, end, label: str = "", offset=(0.0, 0.0), rad=0.0) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=10,
            linewidth=1.0,
            color="black",
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=0,
            shrinkB=0,
        )
    )
    if label:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, label, ha="center", va="center", fontsize=8)


def _column(ax: Axes, x: float, t: str, with_output: bool = True, with_input: bool = True):
    """One time step: x_t below, the cell, and the readout y_hat_t above (the book's notation)."""
    if with_input:
        _box(ax, (x, 0.0), f"$x_{{{t}}}$", INPUT)
        _arrow(ax, (x, 0.28), (x, 0.72), "$W_{ih}$", offset=(0.28, 0.0))
    _box(ax, (x, 1.0), f"$h_{{{t}}}$", CELL)
    if with_output:
        _arrow(ax, (x, 1.28), (x, 1.72), "$W_{hq}$", offset=(0.28, 0.0))
        _box(ax, (x, 2.0), f"$\\hat y_{{{t}}}$", OUTPUT)


def unrolled_rnn(T: int = 4, ax: Axes | None = None) -> Figure:
    """The Elman network folded (one cell with a loop) and unrolled over ``T`` steps.

    Every copy of the cell uses the same W_ih, W_hh and W_hq: unrolling adds depth, not
    parameters.
    """
    T = checks.integer("T (the figure's width)", T, minimum=1, maximum=8)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.45 * (T + 2.2), 2.7))
    _column(ax, 0.0, "t")
    _arrow(ax, (0.4, 1.12), (0.4, 0.88), rad=-2.2)
    ax.text(0.93, 1.0, "$W_{hh}$", ha="left", va="center", fontsize=8)
    ax.text(1.6, 1.0, "=", ha="center", va="center", fontsize=16)
    x0 = 2.6
    _box(ax, (x0, 1.0), "$h_0$", "0.45", w=0.6)
    for k in range(1, T + 1):
        x = x0 + 1.4 * k
        _arrow(
            ax,
            (x - 1.4 + (0.3 if k == 1 else 0.4), 1.0),
            (x - 0.4, 1.0),
            "$W_{hh}$",
            offset=(0.0, 0.15),
        )
        _column(ax, x, str(k) if k < T else "T")
        if k == T and T > 3:  # steps between T-1 and T are left out
            ax.text(x - 0.7, 1.3, r"$\cdots$", ha="center", fontsize=12)
    ax.set_xlim(-0.6, x0 + 1.4 * T + 0.6)
    ax.set_ylim(-0.45, 2.45)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure


#: name -> (inputs present at each step, outputs present at each step), drawn left to right
TOPOLOGIES = {
    "one-to-one": ([1], [1]),
    "one-to-many": ([1, 0, 0, 0], [1, 1, 1, 1]),
    "many-to-one": ([1, 1, 1, 1], [0, 0, 0, 1]),
    "many-to-many\n(aligned)": ([1, 1, 1, 1], [1, 1, 1, 1]),
    "many-to-many\n(encoder-decoder)": ([1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]),
}


def topologies() -> Figure:
    """Five panels: which steps read an input (below) and which emit an output (above)."""
    widths = [max(len(i), 2) for i, _ in TOPOLOGIES.values()]
    fig, axes = plt.subplots(
        1, len(TOPOLOGIES), figsize=(11, 2.3), gridspec_kw={"width_ratios": widths}
    )
    for ax, (name, (ins, outs)) in zip(axes, TOPOLOGIES.items(), strict=True):
        for k, (has_in, has_out) in enumerate(zip(ins, outs, strict=True)):
            x = 1.0 * k
            _box(ax, (x, 1.0), "", CELL, w=0.6, h=0.45)
            if has_in:
                _box(ax, (x, 0.0), "", INPUT, w=0.6, h=0.45)
                _arrow(ax, (x, 0.23), (x, 0.77))
            if has_out:
                _box(ax, (x, 2.0), "", OUTPUT, w=0.6, h=0.45)
                _arrow(ax, (x, 1.23), (x, 1.77))
            if k > 0:
                _arrow(ax, (x - 0.7, 1.0), (x - 0.3, 1.0))
        ax.set_title(name, fontsize=9)
        pad = (max(len(ins), 2) - len(ins)) / 2
        ax.set_xlim(-0.5 - pad, len(ins) - 0.5 + pad)
        ax.set_ylim(-0.4, 2.4)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.text(
        0.5,
        0.04,
        "green: input $x_t$    blue: hidden state $h_t$    orange: output $\\hat y_t$",
        ha="center",
        fontsize=9,
    )
    return fig


#: the four steps of the LSTM update, in order, as ``lstm_cell(highlight=...)`` names them
LSTM_STEPS = ("forget", "write", "update", "output")
_GATE = {"sigma": PALETTE[0], "tanh": PALETTE[3]}


def _op(ax: Axes, xy, symbol: str, color: str) -> None:
    ax.add_patch(plt.Circle(xy, 0.28, facecolor="white", edgecolor=color, linewidth=1.2))
    ax.text(*xy, symbol, ha="center", va="center", fontsize=11, color=color)


def _line(ax: Axes, points, color: str, arrow: bool = True, lw: float = 1.2) -> None:
    xs, ys = zip(*points, strict=True)
    ax.plot(xs[:-1] if arrow else xs, ys[:-1] if arrow else ys, color=color, lw=lw)
    if arrow:
        ax.add_patch(
            FancyArrowPatch(
                points[-2], points[-1], arrowstyle="-|>", mutation_scale=10, color=color, lw=lw
            )
        )


def lstm_cell(highlight: str | None = None, ax: Axes | None = None) -> Figure:
    """The LSTM cell at one step: the cell-state path on top, the four gates below.

    The gates read h_{t-1} and x_t; f multiplies c_{t-1} (forget), i multiplies the candidate
    g (write), their sum is c_t (update), and o multiplies tanh(c_t) to give h_t (output).
    ``highlight`` (one of ``LSTM_STEPS``) draws that step in colour and the rest in grey;
    None draws everything in colour.
    """
    if highlight is not None and highlight not in LSTM_STEPS:
        raise ValueError(f"highlight must be None or one of {LSTM_STEPS}; got {highlight!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.9))
    grey = "0.75"

    def col(step: str, color: str = "black") -> str:
        return color if highlight in (None, step) else grey

    # inputs: h_{t-1} and x_t join into a bus that feeds every gate
    _line(ax, [(0.3, 0.9), (7.55, 0.9)], "black", arrow=False)
    _line(ax, [(1.0, -0.2), (1.0, 0.9)], "black", arrow=False)
    ax.text(-0.1, 0.9, "$h_{t-1}$", ha="right", va="center", fontsize=10)
    ax.text(1.0, -0.45, "$x_t$", ha="center", va="center", fontsize=10)
    gates = {  # name: (x, activation, step)
        "f": (2.3, "sigma", "forget"),
        "i": (3.75, "sigma", "write"),
        "g": (5.3, "tanh", "write"),
        "o": (7.55, "sigma", "output"),
    }
    for name, (x, act, step) in gates.items():
        _line(ax, [(x, 0.9), (x, 1.75)], col(step))
        label = rf"$\sigma$  ${name}_t$" if act == "sigma" else rf"tanh ${name}_t$"
        _box(ax, (x, 2.05), label, col(step, _GATE[act]), w=1.3, h=0.5)
    # cell-state path: c_{t-1} -> x f -> + -> c_t
    c_col = col("update", PALETTE[2]) if highlight != "forget" else PALETTE[2]
    ax.text(-0.1, 4.6, "$c_{t-1}$", ha="right", va="center", fontsize=10)
    _line(ax, [(0.3, 4.6), (2.02, 4.6)], c_col if highlight != "write" else grey)
    _op(ax, (2.3, 4.6), r"$\times$", col("forget", PALETTE[0]))
    _line(ax, [(2.3, 2.3), (2.3, 4.32)], col("forget"))
    _line(ax, [(2.58, 4.6), (5.72, 4.6)], col("update", PALETTE[2]))
    _op(ax, (4.5, 3.35), r"$\times$", col("write", PALETTE[0]))
    _line(ax, [(3.75, 2.3), (3.75, 3.35), (4.22, 3.35)], col("write"))
    _line(ax, [(5.3, 2.3), (5.3, 3.35), (4.78, 3.35)], col("write"))
    _line(ax, [(4.5, 3.63), (4.5, 4.1), (6.0, 4.1), (6.0, 4.32)], col("update"))
    _op(ax, (6.0, 4.6), "+", col("update", PALETTE[2]))
    _line(ax, [(6.28, 4.6), (10.0, 4.6)], col("update", PALETTE[2]))
    ax.text(10.1, 4.6, "$c_t$", ha="left", va="center", fontsize=10)
    # output: h_t = o * tanh(c_t)
    _line(ax, [(8.9, 4.6), (8.9, 3.85)], col("output"))
    _box(ax, (8.9, 3.6), "tanh", col("output", _GATE["tanh"]), w=0.8, h=0.45)
    _op(ax, (8.9, 2.05), r"$\times$", col("output", PALETTE[0]))
    _line(ax, [(8.9, 3.37), (8.9, 2.33)], col("output"))
    _line(ax, [(8.15, 2.05), (8.62, 2.05)], col("output"))
    _line(ax, [(9.18, 2.05), (9.6, 2.05), (9.6, 0.9), (10.0, 0.9)], col("output"))
    ax.text(10.1, 0.9, "$h_t$", ha="left", va="center", fontsize=10)
    title = {
        None: "LSTM cell",
        "forget": "1. forget: $f_t \\odot c_{t-1}$",
        "write": "2. write: $i_t \\odot g_t$",
        "update": "3. update: $c_t = f_t \\odot c_{t-1} + i_t \\odot g_t$",
        "output": "4. output: $h_t = o_t \\odot \\tanh(c_t)$",
    }[highlight]
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-1.0, 10.9)
    ax.set_ylim(-0.7, 5.1)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure


def gru_cell(ax: Axes | None = None) -> Figure:
    """The GRU cell at one step, in PyTorch's form: the state path on top, the gates below.

    The gates read h_{t-1} and x_t. The update gate z multiplies h_{t-1} (what is kept) and
    1 - z the candidate n (what is written); their sum is h_t = (1 - z) n + z h_{t-1}. The
    reset gate r multiplies the recurrent product W_hn h_{t-1} + b_hn inside the candidate,
    n = tanh(W_in x_t + b_in + r (W_hn h_{t-1} + b_hn)), after the product as in PyTorch.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.9))
    state, gate = PALETTE[2], PALETTE[0]
    # the state path: h_{t-1} -> x z -> + -> h_t
    ax.text(-0.1, 4.6, "$h_{t-1}$", ha="right", va="center", fontsize=10)
    _line(ax, [(0.3, 4.6), (2.02, 4.6)], state)
    _op(ax, (2.3, 4.6), r"$\times$", gate)
    _line(ax, [(2.58, 4.6), (7.02, 4.6)], state)
    _op(ax, (7.3, 4.6), "+", state)
    _line(ax, [(7.58, 4.6), (10.0, 4.6)], state)
    ax.text(10.1, 4.6, "$h_t$", ha="left", va="center", fontsize=10)
    ax.text(2.3, 5.0, r"keep $z_t \odot h_{t-1}$", ha="center", va="bottom", fontsize=8)
    ax.text(7.7, 3.75, r"write $(1 - z_t) \odot n_t$", ha="left", va="center", fontsize=8)
    # inputs: h_{t-1} (branched off the state path) and x_t join into a bus
    _line(ax, [(0.8, 4.6), (0.8, 0.55), (7.3, 0.55)], "black", arrow=False)
    ax.plot([0.8], [4.6], "o", color="black", ms=3)
    _line(ax, [(1.4, -0.4), (1.4, 0.55)], "black", arrow=False)
    ax.text(1.4, -0.65, "$x_t$", ha="center", va="center", fontsize=10)
    # update gate z: into the keep product, and as 1 - z into the write product
    _line(ax, [(2.3, 0.55), (2.3, 1.8)], "black")
    _box(ax, (2.3, 2.05), r"$\sigma$  $z_t$", _GATE["sigma"], w=1.1, h=0.5)
    _line(ax, [(2.3, 2.3), (2.3, 4.32)], "black")
    _line(ax, [(2.3, 3.35), (3.52, 3.35)], "black")
    _op(ax, (3.8, 3.35), "", gate)
    ax.text(3.8, 3.35, "$1-$", ha="center", va="center", fontsize=8, color=gate)
    _line(ax, [(4.08, 3.35), (7.02, 3.35)], "black")
    # reset gate r: scales the recurrent product of the candidate (after the product)
    _line(ax, [(4.2, 0.55), (4.2, 1.8)], "black")
    _box(ax, (4.2, 2.05), r"$\sigma$  $r_t$", _GATE["sigma"], w=1.1, h=0.5)
    _line(ax, [(4.75, 2.05), (5.52, 2.05)], "black")
    _line(ax, [(5.8, 0.55), (5.8, 0.99)], "black")
    _box(ax, (5.8, 1.2), "", "0.45", w=2.0, h=0.42)
    ax.text(
        5.8, 1.2, "$W_{hn} h_{t-1} + b_{hn}$", ha="center", va="center", fontsize=8, color="white"
    )
    _line(ax, [(5.8, 1.41), (5.8, 1.77)], "black")
    _op(ax, (5.8, 2.05), r"$\times$", gate)
    # candidate n: tanh of the input part plus the reset-scaled recurrent part
    _line(ax, [(6.08, 2.05), (6.65, 2.05)], "black")
    _line(ax, [(7.3, 0.55), (7.3, 1.8)], "black")
    ax.text(7.45, 1.2, "$W_{in} x_t + b_{in}$", ha="left", va="center", fontsize=8)
    _box(ax, (7.3, 2.05), "tanh $n_t$", _GATE["tanh"], w=1.3, h=0.5)
    _line(ax, [(7.3, 2.3), (7.3, 3.07)], "black")
    _op(ax, (7.3, 3.35), r"$\times$", gate)
    _line(ax, [(7.3, 3.63), (7.3, 4.32)], state)
    ax.set_title(
        r"GRU cell (PyTorch's form: $h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$)", fontsize=10
    )
    ax.set_xlim(-1.0, 10.9)
    ax.set_ylim(-0.9, 5.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure
