"""Build the student edition: the book's sources with every solution taken out.

In every chapter notebook, a code cell tagged ``solution`` becomes a stub (the signatures
kept, ``# your code here``, ``raise NotImplementedError``; see :mod:`.stubs`), shown rather
than hidden; every ``{solution}`` block is removed from the Markdown cells (:mod:`.myst`), as
is every code cell inside a gated ``{solution-start}`` ... ``{solution-end}`` region; and the
outputs of every cell are cleared. Markdown pages lose their solution blocks too.

The edition is a complete Jupyter Book source tree (``_config.yml``, ``_toc.yml`` and the
book's folders), so ``jupyter-book build <out>`` turns it into the student HTML book.
"""

from __future__ import annotations

import copy
import json
import pathlib
import re
import shutil
from dataclasses import dataclass, field
from typing import Any

from companion.instructor.exercises import cell_source, is_solution_cell, read_notebook
from companion.instructor.myst import SolutionStripper, iter_directives
from companion.instructor.stubs import stub_source

BOOK_FILES = ("_config.yml", "_toc.yml")
#: the Chinese edition's message catalogues, copied when present (``make catalogues``)
LOCALES = "locales"
MARKER_FILE = ".student-edition"
HIDING_TAGS = frozenset(
    {"solution", "hide-input", "hide-output", "hide-cell", "remove-input", "remove-cell"}
)
_IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", "_build")
_TOC_PATH = re.compile(r"^\s*-?\s*(?:file|root|glob):\s*([^\s#]+)", re.MULTILINE)


@dataclass
class EditionReport:
    """What :func:`build_student_edition` wrote."""

    out: pathlib.Path
    source_dirs: list[str] = field(default_factory=list)  # the book's folders, copied
    notebooks: list[pathlib.Path] = field(default_factory=list)
    stubs: int = 0
    solution_blocks: int = 0


def _cleared(cell: dict[str, Any], keep_outputs: bool = False) -> dict[str, Any]:
    cell = copy.deepcopy(cell)
    if cell["cell_type"] == "code" and not keep_outputs:
        cell["outputs"] = []
        cell["execution_count"] = None
    cell.get("metadata", {}).pop("execution", None)
    return cell


def _stub_cell(cell: dict[str, Any], where: str) -> dict[str, Any]:
    cell = _cleared(cell)
    try:
        cell["source"] = stub_source(cell_source(cell))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    tags = [t for t in cell["metadata"].get("tags", []) if t not in HIDING_TAGS]
    cell["metadata"]["tags"] = tags
    if not tags:
        del cell["metadata"]["tags"]
    return cell


def first_exercise_cell(nb: dict[str, Any]) -> int:
    """The index of the first cell with an ``{exercise}`` block or a solution (or the end)."""
    for index, cell in enumerate(nb.get("cells", [])):
        if (
            is_solution_cell(cell)
            or cell["cell_type"] == "markdown"
            and any(d.name.startswith("exercise") for d in iter_directives(cell_source(cell)))
        ):
            return index
    return len(nb.get("cells", []))


def student_notebook(
    nb: dict[str, Any], name: str = "notebook", keep_body_outputs: bool = False
) -> tuple[dict[str, Any], int, int]:
    """The student version of notebook ``nb``, the number of stubs and of blocks removed.

    ``name`` is used in error messages (a solution cell that is not valid Python). With
    ``keep_body_outputs``, the cells before the first exercise keep their outputs (the
    chapter's figures, for the student HTML book); every later output is cleared.
    """
    stripper = SolutionStripper()
    cells, stubs = [], 0
    body_end = first_exercise_cell(nb) if keep_body_outputs else 0
    for index, cell in enumerate(nb.get("cells", [])):
        if is_solution_cell(cell):
            cells.append(_stub_cell(cell, f"{name}, cell {index}"))
            stubs += 1
        elif cell["cell_type"] == "markdown":
            text = stripper.strip(cell_source(cell))
            if text.strip():
                cells.append({**_cleared(cell), "source": text})
        elif not stripper.gated:  # code inside a gated solution region goes with it
            cells.append(_cleared(cell, keep_outputs=index < body_end))
    student = {**copy.deepcopy(nb), "cells": cells}
    student["metadata"].pop("widgets", None)
    return student, stubs, stripper.removed


def write_notebook(nb: dict[str, Any], path: pathlib.Path) -> None:
    """Write ``nb`` as nbformat JSON (one space indent, as Jupyter writes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def source_dirs(root: pathlib.Path) -> list[str]:
    """The top-level folders that hold the pages of ``_toc.yml`` (``book`` here)."""
    toc = (root / "_toc.yml").read_text(encoding="utf-8")
    dirs = {p.split("/")[0] for p in _TOC_PATH.findall(toc) if "/" in p}
    return sorted(d for d in dirs if (root / d).is_dir())


def _prepare(root: pathlib.Path, out: pathlib.Path) -> None:
    """Empty ``out`` for a new edition, refusing any folder that could hold other work."""
    inside_build = out.is_relative_to(root / "_build")
    if root.is_relative_to(out) or (out.is_relative_to(root) and not inside_build):
        raise ValueError(f"the student edition goes under {root / '_build'} or outside {root}")
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER_FILE).exists():
            raise ValueError(f"{out} is not empty and is not a student edition; not replacing it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER_FILE).write_text("The student edition, written by companion.instructor.\n")


def build_student_edition(
    root: pathlib.Path, out: pathlib.Path, keep_body_outputs: bool = False
) -> EditionReport:
    """Write the student edition of the book at ``root`` into ``out`` (replaced if present).

    Copies ``_config.yml``, ``_toc.yml``, the folders that hold the book's pages and the
    message catalogues of the Chinese edition (``locales``), then
    rewrites every notebook with :func:`student_notebook` and removes the solution blocks
    of every Markdown page. The instructor's files are only read. ``out`` must lie under
    ``root/_build`` or outside ``root``, and be empty, absent or an earlier edition.
    ``keep_body_outputs`` is passed on to :func:`student_notebook`.
    """
    root, out = pathlib.Path(root).resolve(), pathlib.Path(out).resolve()
    _prepare(root, out)
    for name in BOOK_FILES:
        shutil.copy2(root / name, out / name)
    for folder in source_dirs(root):
        shutil.copytree(root / folder, out / folder, ignore=_IGNORED)
    if (root / LOCALES).is_dir():
        shutil.copytree(root / LOCALES, out / LOCALES, ignore=_IGNORED)
    report = EditionReport(out, source_dirs=source_dirs(root))
    for path in sorted(out.rglob("*.ipynb")):
        relative = path.relative_to(out)
        nb, stubs, blocks = student_notebook(read_notebook(path), str(relative), keep_body_outputs)
        write_notebook(nb, path)
        report.notebooks.append(path)
        report.stubs += stubs
        report.solution_blocks += blocks
    for path in sorted(out.rglob("*.md")):
        stripper = SolutionStripper()
        text = stripper.strip(path.read_text(encoding="utf-8"))
        if stripper.removed:
            path.write_text(text, encoding="utf-8")
            report.solution_blocks += stripper.removed
    return report
