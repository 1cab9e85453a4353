"""Text coloured by a number per character: how one hidden unit reads a passage.

Karpathy, Johnson and Fei-Fei (2016), "Visualizing and understanding recurrent networks"
(arXiv 1506.02078), show a character model's units by colouring each character of a passage
by the unit's activation after reading it; a unit that tracks a state (inside a string, the
depth of brackets, the position in the line) is then visible at a glance::

    character t in cell (row, column):  text[t] on the colour cmap((v_t - vmin) / (vmax - vmin))

The colours are the colormap's mixed with 30 % white, so that black characters stay readable
on the darkest ones. The passage keeps its own line breaks (a newline is drawn as a faint
return sign at the end of its line, in the newline's colour) and lines longer than ``width``
wrap. The colormap is a diverging one centred on 0, for a tanh unit in (-1, 1). The figure
uses the book's style (``companion.style``).
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.colors import Colormap, ListedColormap, Normalize
from matplotlib.figure import Figure

from companion import checks, style

#: A diverging colormap that colour-blind readers can read, blue negative and red positive.
DIVERGING = "RdBu_r"
NEWLINE_MARK = "\u21b5"  # the return sign drawn for a newline
#: Inches per character cell across and per line down, and the font size in points.
CELL_WIDTH, CELL_HEIGHT, FONT_SIZE = 0.082, 0.19, 8.0
#: The share of white mixed into the colormap, so that black characters stay readable.
LIGHTEN = 0.3


def activation_text(
    text: str,
    values: np.ndarray,
    title: str | None = None,
    width: int = 72,
    vmin: float = -1.0,
    vmax: float = 1.0,
    cmap: str = DIVERGING,
    label: str = "activation",
) -> Figure:
    """A figure of ``text`` with each character's background coloured by ``values``.

    Args:
        text: the passage, N characters (tabs are drawn as one cell).
        values: (N,) finite numbers, one per character (e.g. a unit's h[t, j] after reading
            text[t]); values outside [vmin, vmax] get the end colours.
        title: an optional title above the passage.
        width: characters per drawn line; longer lines wrap.
        vmin, vmax: the ends of the colour scale (default the tanh range -1..1).
        cmap: a matplotlib colormap name (default ``DIVERGING``).
        label: the colorbar's label.

    Returns a ``matplotlib.figure.Figure`` (not shown; a notebook displays it), about
    width * 0.082 inches wide and 0.19 inches per drawn line, with a colorbar.

    Raises TypeError for a non-str text or non-numeric values; ValueError for values of the
    wrong shape or not finite, an empty text, ``width`` < 1, or vmin >= vmax.
    """
    rows, cols, chars = _layout(text, width)
    values = _values(values, len(text))
    vmin, vmax = checks.number("vmin", vmin), checks.number("vmax", vmax)
    if vmin >= vmax:
        raise ValueError(f"vmin must be below vmax; got {vmin} and {vmax}")
    norm, colormap = Normalize(vmin, vmax), _light(mpl.colormaps[cmap])
    n_rows, n_cols = int(rows.max()) + 1, max(int(cols.max()) + 1, 10)
    grid = np.full((n_rows, n_cols), np.nan)  # (rows, columns) of the drawn passage
    grid[rows, cols] = values
    with mpl.rc_context(style.RC):
        fig = Figure(figsize=(n_cols * CELL_WIDTH + 0.9, n_rows * CELL_HEIGHT + 0.7))
        ax = fig.add_axes((0.02, 0.02, 0.98 - 0.75 / fig.get_figwidth(), 0.9))
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=colormap, norm=norm,
                          aspect="auto", interpolation="nearest")  # fmt: skip
        for r, c, ch in zip(rows.tolist(), cols.tolist(), chars, strict=True):
            if ch == "\n":
                ax.text(c, r, NEWLINE_MARK, ha="center", va="center", color="0.45",
                        fontsize=FONT_SIZE * 0.85, family="DejaVu Sans Mono")  # fmt: skip
            elif not ch.isspace():
                ax.text(c, r, ch, ha="center", va="center", fontsize=FONT_SIZE,
                        family="DejaVu Sans Mono")  # fmt: skip
        ax.set_xlim(-0.5, n_cols - 0.5)
        ax.set_ylim(n_rows - 0.5, -0.5)
        ax.set_axis_off()
        if title is not None:
            ax.set_title(str(title), loc="left")
        bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, shrink=min(1.0, 8 / n_rows),
                           aspect=max(5, min(20, 4 * n_rows)))  # fmt: skip
        bar.set_label(label)
    return fig


def _light(colormap: Colormap) -> ListedColormap:
    """``colormap`` mixed with LIGHTEN white, so that black characters stay readable on it."""
    rgb = colormap(np.linspace(0.0, 1.0, 256))[:, :3]
    return ListedColormap(LIGHTEN + (1.0 - LIGHTEN) * rgb, name=f"{colormap.name}_light")


def _layout(text: object, width: object) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Row and column of every character, with the text's line breaks and wrapping."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    if not text:
        raise ValueError("text must hold at least one character")
    width = checks.positive_int("width", width)
    rows, cols = np.empty(len(text), dtype=np.int64), np.empty(len(text), dtype=np.int64)
    r = c = 0
    for t, ch in enumerate(text):
        if c == width and ch != "\n":  # wrap; a newline stays at the end of its line
            r, c = r + 1, 0
        rows[t], cols[t] = r, c
        r, c = (r + 1, 0) if ch == "\n" else (r, c + 1)
    return rows, cols, ["\u2192" if ch == "\t" else ch for ch in text]


def _values(values: object, N: int) -> np.ndarray:
    values = np.asarray(values)
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise TypeError(f"values must be numbers; got dtype {values.dtype}")
    if values.shape != (N,):
        raise ValueError(f"values must have shape (N,) = ({N},), one per character; got "
                         f"{values.shape}")  # fmt: skip
    if not np.all(np.isfinite(values)):
        raise ValueError("values must be finite")
    return values.astype(np.float64)
