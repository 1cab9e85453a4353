"""Read a chapter notebook's exercises: their labels, solution cells and check calls.

An exercise is a MyST ``{exercise}`` block with a ``:label:``. A code exercise is followed by a
code cell tagged ``solution`` and by a check cell that calls ``chNN.check_*(...)`` from
``companion.exercises.chNN``. Both belong to the exercise block that precedes them.
"""

from __future__ import annotations

import ast
import json
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

from companion.instructor.myst import iter_directives
from companion.instructor.stubs import defined_names, to_python

SOLUTION_TAG = "solution"
CHAPTER = re.compile(r"(?<![a-z0-9])ch(\d{2})(?![0-9])", re.IGNORECASE)
_CHECK_MODULE = re.compile(r"^(?:companion\.exercises\.)?(ch\d{2})$")


@dataclass(frozen=True)
class CheckCall:
    """One call ``chNN.check_name(args)`` in a check cell of a chapter notebook."""

    chapter: str  # "ch01"
    function: str  # "check_elman_forward"
    args: str  # the argument list as written, "elman"
    label: str | None = None  # the exercise the call belongs to
    cell_index: int = -1

    @property
    def key(self) -> str:
        """Its column in the grader's CSV, such as ``ch01.check_elman_forward``."""
        return f"{self.chapter}.{self.function}"

    @property
    def module(self) -> str:
        """The module that defines the check, ``companion.exercises.ch01``."""
        return f"companion.exercises.{self.chapter}"


@dataclass
class Exercise:
    """An ``{exercise}`` block, with the solution cells and check calls that follow it."""

    label: str
    title: str
    functions: list[str] = field(default_factory=list)  # defined by its solution cells
    checks: list[CheckCall] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """``"code"`` if the exercise has a solution cell or a check, else ``"written"``."""
        return "code" if self.functions or self.checks else "written"


def read_notebook(path: pathlib.Path) -> dict[str, Any]:
    """The notebook at ``path`` as a dict (no validation)."""
    return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat allows a string or a list of lines)."""
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def is_solution_cell(cell: dict[str, Any]) -> bool:
    """True for a code cell tagged ``solution``."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.get("cell_type") == "code" and SOLUTION_TAG in tags


def chapter_of_name(name: str) -> str | None:
    """``"ch01"`` for a name containing the token ``ch01`` (``alice_ch01.ipynb``), else None."""
    match = CHAPTER.search(name)
    return f"ch{match.group(1)}" if match else None


def _check_chapter(func: ast.expr) -> tuple[str, str] | None:
    """``("ch01", "check_x")`` if ``func`` is ``ch01.check_x`` (or the full module path)."""
    if not (isinstance(func, ast.Attribute) and func.attr.startswith("check_")):
        return None
    try:
        dotted = ast.unparse(func.value)
    except Exception:  # pragma: no cover - unparse handles every expression
        return None
    match = _CHECK_MODULE.match(dotted)
    return (match.group(1), func.attr) if match else None


def check_calls_in(source: str) -> list[tuple[str, str, str]]:
    """Every ``chNN.check_*(...)`` call in ``source``, as ``(chapter, function, args)``.

    Code that is not valid Python has no calls (a learner's broken cell, for the grader).
    """
    try:
        python = to_python(source)
        tree = ast.parse(python)
    except (SyntaxError, ValueError):
        return []
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (found := _check_chapter(node.func)):
            pieces = [ast.get_source_segment(python, a) or ast.unparse(a) for a in node.args]
            pieces += [ast.get_source_segment(python, k) or ast.unparse(k) for k in node.keywords]
            calls.append((*found, ", ".join(pieces)))
    return sorted(calls, key=lambda c: source.find(f"{c[0]}.{c[1]}"))


def exercises(nb: dict[str, Any]) -> list[Exercise]:
    """The exercises of a chapter notebook, in order, each with its solutions and checks."""
    found: list[Exercise] = []
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell_source(cell)
        if cell.get("cell_type") == "markdown":
            for block in iter_directives(source):
                if block.name in ("exercise", "exercise-start"):
                    label = block.options.get("label", f"(unlabelled, cell {index})")
                    found.append(Exercise(label, block.argument))
        elif cell.get("cell_type") == "code" and found:
            if is_solution_cell(cell):
                found[-1].functions += defined_names(source)
                continue
            for chapter, function, args in check_calls_in(source):
                found[-1].checks.append(CheckCall(chapter, function, args, found[-1].label, index))
    return found


def check_calls(nb: dict[str, Any]) -> list[CheckCall]:
    """Every check call of a chapter notebook, in order, each once."""
    calls: list[CheckCall] = []
    for exercise in exercises(nb):
        calls += [c for c in exercise.checks if c.key not in {k.key for k in calls}]
    return calls


def exercise_table(paths: list[pathlib.Path]) -> str:
    """A Markdown list of the exercises of each chapter notebook in ``paths``."""
    lines: list[str] = []
    for path in paths:
        items = exercises(read_notebook(path))
        n_code = sum(e.kind == "code" for e in items)
        lines += [f"- `{path.name}`: {len(items)} exercises, {n_code} with code and a check"]
        for e in items:
            detail = ", ".join(f"`{c.key}`" for c in e.checks) if e.checks else e.kind
            lines.append(f"  - {e.title} (`{e.label}`): {detail}")
    return "\n".join(lines)
