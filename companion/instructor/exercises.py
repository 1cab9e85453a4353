"""Read a chapter notebook's exercises: their labels, solution cells and check calls.

An exercise is a MyST ``{exercise}`` block with a ``:label:``. A code exercise is followed by a
code cell tagged ``solution`` and by a check cell that calls ``chNN.check_*(...)`` from
``companion.exercises.chNN``. Both belong to the exercise block that precedes them. What a
check's exercise asks to be written by hand is its ``by_hand`` declaration
(:func:`companion.exercises.core.by_hand`); :func:`forbidden_mentions` finds where a learner's
code names one of those callables.
"""

from __future__ import annotations

import ast
import json
import pathlib
import re
from collections.abc import Sequence
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


def _aliases(trees: list[ast.Module]) -> dict[str, str]:
    """The dotted name each imported name stands for: ``{"r": "companion.ref.rnn"}``."""
    aliases: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    top = a.name.split(".")[0]
                    aliases[a.asname or top] = a.name if a.asname else top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """``companion.ref.rnn.backward`` for ``rnn.backward`` or ``getattr(rnn, "backward")``."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    ):
        base = _dotted(node.args[0], aliases)
        return f"{base}.{node.args[1].value}" if base else None
    return None


def forbidden_mentions(
    cells: Sequence[tuple[int, str]], function: str, forbidden: Sequence[str]
) -> list[str]:
    """Where the learner's ``function`` names one of ``forbidden`` (dotted names), one line each.

    ``cells`` are the learner's code cells as ``(index, source)``. The body of the last
    top-level definition of ``function`` is read, and those of the top-level functions it
    calls, with the names that the notebook's imports bind (``import companion.ref.rnn as r``,
    ``from companion.ref.rnn import backward as b``) and ``getattr(module, "name")`` resolved;
    a ``.backward()`` call on anything counts as ``torch.Tensor.backward``. A line reads
    ``companion.ref.rnn.backward (cell 12, line 3)``.
    """
    trees: list[tuple[int, ast.Module]] = []
    for index, source in cells:
        try:
            trees.append((index, ast.parse(to_python(source))))
        except (SyntaxError, ValueError):
            continue
    aliases = _aliases([tree for _, tree in trees])
    kinds = ast.FunctionDef | ast.AsyncFunctionDef
    defs = {n.name: (i, n) for i, tree in trees for n in tree.body if isinstance(n, kinds)}
    found: dict[tuple[str, int, int], None] = {}
    todo, seen = [function], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        index, node = defs[name]
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
                todo.append(sub.func.id)
            dotted = _dotted(sub, aliases) if isinstance(sub, ast.expr) else None
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
                if sub.func.attr == "backward" and _dotted(sub.func, aliases) is None:
                    dotted = "torch.Tensor.backward"
            for entry in forbidden:
                if dotted and (dotted == entry or dotted.startswith(entry + ".")):
                    found[(entry, index, sub.lineno)] = None
    places = sorted(found, key=lambda place: place[1:])
    return [f"{entry} (cell {index + 1}, line {line})" for entry, index, line in places]
