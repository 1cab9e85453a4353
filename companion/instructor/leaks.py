"""Check that no solution of the instructor's book survives in a student edition.

Every line of every solution (the code of a cell tagged ``solution``, the text of a
``{solution}`` block) is a *secret* if it is distinctive: at least ``MIN_CHARS`` letters
and digits long once normalised, not part of the stub the student sees (a signature, a
docstring, an import), and not visible anywhere else in the instructor's sources (a line
that the chapter also shows outside its solutions gives nothing away). Lines are compared
after :func:`normalize`, which keeps only lower-case letters and digits, so that a solution
is found in a notebook, a Markdown page or an HTML page alike (where code is split into
highlighted spans, ``$x$`` becomes ``\\(x\\)`` and quotes become typographic).
"""

from __future__ import annotations

import html
import json
import pathlib
import re
from dataclasses import dataclass

from companion.instructor.exercises import cell_source, is_solution_cell, read_notebook
from companion.instructor.myst import iter_directives
from companion.instructor.stubs import stub_source

MIN_CHARS = 25
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.DOTALL | re.IGNORECASE)
SEARCHED = (".ipynb", ".md", ".html")


@dataclass(frozen=True)
class Leak:
    """A secret line found in a student file."""

    path: pathlib.Path
    line: str  # normalised
    origin: str  # where it comes from in the instructor's sources


def normalize(text: str) -> str:
    """Lower-case letters and digits, every other run of characters one space."""
    return _NOT_ALNUM.sub(" ", text.lower()).strip()


def _solution_parts(nb: dict, name: str) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """The solution lines (line, origin), the stubs' lines and the visible text of ``nb``."""
    secret: list[tuple[str, str]] = []
    stubs: list[str] = []
    visible: list[str] = []
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell_source(cell)
        where = f"{name}, cell {index}"
        if is_solution_cell(cell):
            secret += [(line, where) for line in source.splitlines()]
            stubs.append(stub_source(source))
            continue
        lines = source.splitlines()
        if cell.get("cell_type") == "markdown":
            for block in iter_directives(source):
                if block.name == "solution":
                    inside = range(block.start + 1, block.end)
                    secret += [
                        (lines[k], f"{where}, {{solution}}") for k in inside if k < len(lines)
                    ]
                    lines[block.start : block.end] = [""] * (block.end - block.start)
        visible.append("\n".join(lines))
    return secret, stubs, visible


def secret_lines(sources: list[pathlib.Path]) -> dict[str, str]:
    """The distinctive solution lines of the instructor files ``sources``, normalised."""
    secret: list[tuple[str, str]] = []
    seen_openly: list[str] = []
    for path in sources:
        if path.suffix == ".ipynb":
            found, stubs, visible = _solution_parts(read_notebook(path), path.name)
        else:
            nb = {"cells": [{"cell_type": "markdown", "source": path.read_text("utf-8")}]}
            found, stubs, visible = _solution_parts(nb, path.name)
        secret += found
        seen_openly += stubs + visible
    openly = {normalize(line) for text in seen_openly for line in text.splitlines()}
    openly_text = " " + " ".join(normalize(text) for text in seen_openly) + " "
    lines = {}
    for line, origin in secret:
        key = normalize(line)
        if len(key) >= MIN_CHARS and key not in openly and f" {key} " not in openly_text:
            lines.setdefault(key, origin)
    return lines


def file_text(path: pathlib.Path) -> str:
    """The text a reader could see in ``path``: cell sources and outputs, or HTML text."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        nb = json.loads(raw)
        parts = []
        for cell in nb.get("cells", []):
            parts.append(cell_source(cell))
            for out in cell.get("outputs", []):
                parts.append(json.dumps(out.get("text", "")) + json.dumps(out.get("data", {})))
        return "\n".join(parts)
    if path.suffix == ".html":
        return html.unescape(_TAG.sub(" ", raw))
    return raw


def find_leaks(secrets: dict[str, str], paths: list[pathlib.Path]) -> list[Leak]:
    """Every secret line that occurs in one of ``paths``."""
    leaks = []
    for path in paths:
        text = " " + normalize(file_text(path)) + " "
        leaks += [
            Leak(path, line, origin) for line, origin in secrets.items() if f" {line} " in text
        ]
    return leaks


def instructor_sources(root: pathlib.Path, folders: list[str]) -> list[pathlib.Path]:
    """The notebooks and Markdown pages under ``folders`` of ``root``."""
    found = []
    for folder in folders:
        for suffix in (".ipynb", ".md"):
            found += [p for p in (root / folder).rglob(f"*{suffix}") if "_build" not in p.parts]
    return sorted(p for p in found if ".ipynb_checkpoints" not in p.parts)


def student_files(folder: pathlib.Path) -> list[pathlib.Path]:
    """Every notebook, Markdown page and HTML page under ``folder``."""
    return sorted(p for p in pathlib.Path(folder).rglob("*") if p.suffix in SEARCHED)
