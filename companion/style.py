"""The book's one figure style, applied explicitly by ``companion.setup``.

Figures have an opaque white background so that they stay readable in the theme's dark
mode, a colour-blind-safe cycle (Okabe and Ito), and sizes chosen for the book's column.
"""

from __future__ import annotations

import matplotlib as mpl

#: Okabe-Ito colour-blind-safe palette, black moved last.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

RC = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
    "font.size": 10,
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (an opaque, colour-blind-safe look)."""
    mpl.rcParams.update(RC)


def chinese_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, registered with matplotlib,
    or None (Chinese labels would then draw as empty boxes: install one, e.g. Debian's
    ``fonts-wqy-microhei``, which the book's CI installs). Found through fontconfig's
    ``fc-list :lang=zh``; a figure passes the name as ``fontfamily=`` to its Chinese text
    only, so that the book's default font stays everywhere else."""
    import shutil
    import subprocess

    from matplotlib import font_manager

    if shutil.which("fc-list") is None:
        return None
    listed = subprocess.run(
        ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False
    ).stdout
    files = sorted(line.split(":")[0].strip() for line in listed.splitlines() if line.strip())
    if not files:
        return None
    font_manager.fontManager.addfont(files[0])
    return font_manager.FontProperties(fname=files[0]).get_name()
