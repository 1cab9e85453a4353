"""Grade a folder of submitted notebooks: run each, re-run every official check, write a CSV.

A submission is matched with the instructor notebook of its chapter (``ch01`` in its file
name, else the chapter whose checks it calls) and executed in its own kernel with a time
limit per cell and per notebook (:mod:`.runner`). The grader does not trust the learner's
check cells: after the notebook it runs grading cells of its own that import the checks
afresh (every ``companion`` module is dropped from ``sys.modules`` first, so a check that
the notebook redefined or patched is gone) and call them with the learner's functions. An
exercise's check scores 1 if and only if

- the notebook still has its check cell (a cell that calls that check) and that cell ran
  without an error and printed ``All N cases passed.``, and
- the grader's own call of the check passed.

Each check watches the learner's function for calls of what its exercise asks to be written by
hand (its ``by_hand`` declaration: the companion's reference implementation, or autograd for a
hand-written gradient); a function that delegates to one fails the check, in the learner's
cell and in the grader's, with the reason. The feedback also names the places where the
learner's code refers to one of those callables (:func:`.exercises.forbidden_mentions`).

Everything that can go wrong with one submission (not JSON, a syntax error, an exception, an
endless loop, a dead kernel) costs that submission the exercises it affects, never the run.
Grading executes the learners' code: run it in a container or sandbox that you control.
"""

from __future__ import annotations

import importlib
import json
import pathlib
import re
import secrets
import tempfile
import traceback
import warnings
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import nbformat

from companion.instructor.exercises import (
    CheckCall,
    chapter_of_name,
    check_calls,
    check_calls_in,
    forbidden_mentions,
    read_notebook,
)
from companion.instructor.runner import CellOutcome, run_notebook

RESULT_PREFIX = "companion-grader-result "
DELEGATED = "which is what this exercise asks you to write by hand"  # a check's reason
PASSED = re.compile(r"^All \d+ cases passed\.$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\b(TOKEN|KEY|MODULE|FUNCTION|ARGS|PATTERN|PREFIX)\b")
GRADING_CELL = """\
# Added by the grader: the official check, imported afresh, called with your function.
def _grader_run_check():
    import contextlib, importlib, io, json, re, sys

    result = {"token": TOKEN, "check": KEY, "passed": False, "message": ""}
    buffer = io.StringIO()
    try:
        for name in [m for m in sys.modules if m == "companion" or m.startswith("companion.")]:
            del sys.modules[name]
        check = getattr(importlib.import_module(MODULE), FUNCTION)
        with contextlib.redirect_stdout(buffer):
            check(ARGS)
        result["passed"] = re.search(PATTERN, buffer.getvalue(), re.MULTILINE) is not None
        if not result["passed"]:
            result["message"] = "the check did not print its summary line"
    except BaseException as exc:  # anything the learner's function does is a failed check
        result["message"] = f"{type(exc).__name__}: {exc}"
    result["report"] = buffer.getvalue()[-4000:]
    print("\\n" + PREFIX + json.dumps(result))


_grader_run_check()
del _grader_run_check
"""


@dataclass
class CheckResult:
    """The grade of one check of one submission, with what the learner should read."""

    key: str
    label: str | None
    passed: bool
    messages: list[str] = field(default_factory=list)


@dataclass
class SubmissionResult:
    """The grade of one submitted notebook."""

    submission: str  # its path relative to the submissions folder, without .ipynb
    chapter: str | None
    status: str  # "graded", or why it could not be
    checks: list[CheckResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # cells that failed, in the learner's terms

    @property
    def score(self) -> int:
        """The number of checks passed."""
        return sum(c.passed for c in self.checks)


@dataclass(frozen=True)
class Limits:
    """Time limits, in seconds, and the kernel to run submissions in."""

    cell: float = 300.0
    notebook: float = 1800.0
    kernel_name: str = "python3"


def instructor_notebooks(folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """The chapter notebooks of ``folder`` by chapter, ``{"ch01": .../ch01_....ipynb}``."""
    found: dict[str, pathlib.Path] = {}
    for path in sorted(pathlib.Path(folder).glob("ch*.ipynb")):
        chapter = chapter_of_name(path.stem)
        if chapter in found:
            raise ValueError(f"two notebooks for {chapter}: {found[chapter]} and {path}")
        if chapter:
            found[chapter] = path
    if not found:
        raise ValueError(f"no chapter notebooks (ch*.ipynb) in {folder}")
    return found


def detect_chapter(relative: pathlib.Path, nb: nbformat.NotebookNode | None) -> str | None:
    """The chapter of a submission: ``chNN`` in its file or folder names, else in its checks.

    With ``nb`` None, only the names are looked at.
    """
    for part in [relative.stem, *reversed(relative.parent.parts)]:
        if chapter := chapter_of_name(part):
            return chapter
    if nb is None:
        return None
    calls = Counter(
        call[0]
        for cell in nb.cells
        if cell.cell_type == "code"
        for call in check_calls_in(cell.source)
    )
    return calls.most_common(1)[0][0] if calls else None


def grading_cell(call: CheckCall, token: str) -> dict[str, Any]:
    """The code cell (a notebook node) that re-runs ``call`` with its check freshly imported."""
    values = {
        "TOKEN": repr(token),
        "KEY": repr(call.key),
        "MODULE": repr(call.module),
        "FUNCTION": repr(call.function),
        "ARGS": call.args,
        "PATTERN": repr(PASSED.pattern),
        "PREFIX": repr(RESULT_PREFIX),
    }
    source = _PLACEHOLDER.sub(lambda m: values[m.group(1)], GRADING_CELL)
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["grader"]})


def _official_result(outcome: CellOutcome | None, token: str) -> tuple[bool, str]:
    """Passed or not, and why not, from the output of one grading cell."""
    if outcome is None or outcome.status != "ok" and not outcome.stdout:
        reason = outcome.error if outcome else "not run"
        return False, f"the grader's run of the check did not finish ({reason})"
    for line in reversed(outcome.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                result = json.loads(line[len(RESULT_PREFIX) :])
            except json.JSONDecodeError:
                continue
            if result.get("token") == token:
                return bool(result["passed"]), str(result.get("message", ""))
    return False, "the grader's run of the check printed no result"


def _learner_check_cell(
    call: CheckCall, cells: list[nbformat.NotebookNode], outcomes: dict[int, CellOutcome]
) -> tuple[bool, str]:
    """Whether the learner's own check cell for ``call`` is there and passed, and why not."""
    found = [
        i
        for i, cell in enumerate(cells)
        if cell.cell_type == "code"
        and any(c[:2] == (call.chapter, call.function) for c in check_calls_in(cell.source))
    ]
    if not found:
        return False, f"the check cell is missing: no cell calls {call.key}(...)"
    for i in found:
        outcome = outcomes.get(i)
        if outcome and outcome.ok and PASSED.search(outcome.stdout):
            return True, ""
    last = outcomes.get(found[-1])
    error = last.error.splitlines()[0] if last and last.error else ""
    detail = f"{last.status}, {error}" if last and error else "no summary line"
    return False, f"your check cell (cell {found[-1] + 1}) did not pass ({detail})"


def _mentions(call: CheckCall, cells: list[nbformat.NotebookNode]) -> list[str]:
    """The feedback on where the learner's function refers to what it must write by hand."""
    try:
        check = getattr(importlib.import_module(call.module), call.function)
    except (ImportError, AttributeError):
        return []
    declaration = getattr(check, "by_hand", None)
    if declaration is None or not call.args.isidentifier():
        return []
    code = [(i, c.source) for i, c in enumerate(cells) if c.cell_type == "code"]
    places = forbidden_mentions(code, call.args, declaration.forbidden)
    if not places:
        return []
    return [
        f"{call.args} refers to {'; '.join(places)}: this exercise asks you to write "
        f"{declaration.what} by hand"
    ]


def _problems(outcomes: dict[int, CellOutcome], first_grading: int) -> list[str]:
    """The learner's cells that did not run cleanly, one line each."""
    problems = []
    for i, outcome in sorted(outcomes.items()):
        if outcome.ok or i >= first_grading:
            continue
        rerun = outcome.status in ("timeout", "died")
        note = " (skipped; the notebook was re-run without it)" if rerun else ""
        error = outcome.error.splitlines()[0] if outcome.error else ""
        problems.append(f"cell {i + 1}: {outcome.status}: {error}{note}")
    return problems


def grade_notebook(
    nb: nbformat.NotebookNode, calls: list[CheckCall], limits: Limits
) -> tuple[list[CheckResult], list[str]]:
    """Run ``nb`` with a grading cell per check appended; the check results and problems.

    ``nb`` is modified: the grading cells are appended and every cell gets its outputs.
    """
    token = secrets.token_hex(16)
    learner_cells = list(nb.cells)
    first = len(learner_cells)
    nb.cells += [grading_cell(call, token) for call in calls]
    with tempfile.TemporaryDirectory(prefix="grade-") as cwd:
        outcomes = run_notebook(nb, cwd, limits.cell, limits.notebook, limits.kernel_name)
    results = []
    for k, call in enumerate(calls):
        official, why = _official_result(outcomes.get(first + k), token)
        mine, why_mine = _learner_check_cell(call, learner_cells, outcomes)
        missing = why_mine.startswith("the check cell is missing")
        messages = [why_mine] if missing or official else []  # else the official reason says it
        if DELEGATED in why:  # the reason is the first line; the cases only repeat it
            why = why.splitlines()[0]
        messages += [] if official else [f"official check: {why}"]
        messages += _mentions(call, learner_cells)
        results.append(CheckResult(call.key, call.label, official and mine, messages))
    return results, _problems(outcomes, first)


def _not_graded(calls: list[CheckCall], why: str) -> list[CheckResult]:
    return [CheckResult(c.key, c.label, False, [why]) for c in calls]


def _calls(instructor: dict[str, pathlib.Path], chapter: str | None) -> list[CheckCall]:
    """The checks of ``chapter``, none if it is unknown or its notebook cannot be read."""
    try:
        return check_calls(read_notebook(instructor[chapter])) if chapter in instructor else []
    except (OSError, ValueError):
        return []


def grade_submission(
    path: pathlib.Path, relative: pathlib.Path, instructor: dict[str, pathlib.Path], limits: Limits
) -> SubmissionResult:
    """Grade one submitted notebook; never raises (a grader failure is reported as a status)."""
    name = relative.with_suffix("").as_posix()
    chapter = detect_chapter(relative, None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat's notes on missing cell ids and the like
            nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no list of cells")
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        status = f"not a valid notebook: {reason}"
        failed = _not_graded(_calls(instructor, chapter), status)
        return SubmissionResult(name, chapter, status, failed)
    calls: list[CheckCall] = []
    try:
        chapter = chapter or detect_chapter(relative, nb)
        if chapter not in instructor:
            return SubmissionResult(name, chapter, f"no instructor notebook for chapter {chapter}")
        calls = check_calls(read_notebook(instructor[chapter]))
        checks, problems = grade_notebook(nb, calls, limits)
    except Exception:  # a failure of the grader itself: this submission only
        status = f"grader error: {traceback.format_exc(limit=-1)}"
        return SubmissionResult(name, chapter, status, _not_graded(calls, "not graded"))
    return SubmissionResult(name, chapter, "graded", checks, problems)


def find_submissions(folder: pathlib.Path) -> list[pathlib.Path]:
    """Every ``.ipynb`` under ``folder`` (checkpoints excluded), sorted."""
    paths = sorted(pathlib.Path(folder).rglob("*.ipynb"))
    return [p for p in paths if ".ipynb_checkpoints" not in p.parts]


def grade_folder(
    folder: pathlib.Path,
    instructor_dir: pathlib.Path,
    limits: Limits = Limits(),  # noqa: B008 - frozen
    jobs: int = 1,
) -> list[SubmissionResult]:
    """Grade every notebook under ``folder`` against the chapters in ``instructor_dir``."""
    folder = pathlib.Path(folder)
    instructor = instructor_notebooks(instructor_dir)
    paths = find_submissions(folder)
    if not paths:
        raise ValueError(f"no submissions (*.ipynb) under {folder}")
    args = [(p, p.relative_to(folder), instructor, limits) for p in paths]
    if jobs <= 1:
        return [grade_submission(*a) for a in args]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_submission, *a) for a in args]
    return [_result(future, a[1]) for future, a in zip(futures, args, strict=True)]


def _result(future: Future, relative: pathlib.Path) -> SubmissionResult:
    """The result of a grading process, or a grader error if the process itself failed."""
    try:
        return future.result()
    except Exception as exc:  # the worker process died: this submission only
        name = relative.with_suffix("").as_posix()
        return SubmissionResult(name, detect_chapter(relative, None), f"grader error: {exc!r}")
