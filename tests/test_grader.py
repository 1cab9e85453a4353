"""The grader: one run over a folder of submissions, each broken in its own way.

The instructor notebook is a tiny chapter built here (the three code exercises of chapter 1,
``elman``, ``count_params`` and ``sequence_loss``, with their checks), not a real chapter,
so that the whole folder is graded in well under a minute. Every broken submission must
cost only its own affected exercises: each case below is a test of the same grader run.
"""

from __future__ import annotations

import csv
import json
import pathlib
import subprocess
import sys

import nbformat
import pytest

from companion.instructor import grader
from companion.instructor.exercises import check_calls
from companion.instructor.student import student_notebook

ROOT = pathlib.Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 6  # seconds: the endless loops below cost this much each
KEYS = ["ch01.check_elman_forward", "ch01.check_param_count", "ch01.check_sequence_loss"]

ELMAN = '''def elman(x, h0, W_ih, W_hh, b):
    """All hidden states of the tanh Elman RNN."""
    h, h_seq = h0, []
    for x_t in x:
        h = np.tanh(x_t @ W_ih.T + h @ W_hh.T + b)
        h_seq.append(h)
    return np.stack(h_seq)'''
COUNT = """def count_params(D, H, Q):
    return H * D + H * H + H + Q * H + Q"""
LOSS = """def sequence_loss(logits, targets):
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(-np.take_along_axis(log_p, targets[..., None], axis=-1).mean())"""
SOLUTIONS = {"elman": ELMAN, "count_params": COUNT, "sequence_loss": LOSS}


def _exercise(title: str, label: str) -> str:
    return f"```{{exercise}} {title}\n:label: {label}\n\nWrite the function.\n```"


def _solution(label: str) -> str:
    return f"```{{solution}} {label}\n:class: dropdown\n\nThe hidden cell above.\n```"


def tiny_chapter() -> nbformat.NotebookNode:
    """A chapter-like instructor notebook with three code exercises of chapter 1."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    tagged = {"tags": ["solution", "hide-input"]}
    cells = [code("import numpy as np\n\nfrom companion.exercises import ch01")]
    for name, check, label in [
        ("elman", "check_elman_forward", "tiny-ex-forward"),
        ("count_params", "check_param_count", "tiny-ex-params"),
        ("sequence_loss", "check_sequence_loss", "tiny-ex-loss"),
    ]:
        cells += [md(_exercise(name, label)), code(SOLUTIONS[name], metadata=tagged)]
        cells += [code(f"ch01.{check}({name})"), md(_solution(label))]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _with(nb: nbformat.NotebookNode, function: str, source: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose solution cell defining ``function`` holds ``source``."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    [cell] = [c for c in nb.cells if c.cell_type == "code" and f"def {function}(" in c.source]
    cell.source = source
    return nb


def _insert(nb: nbformat.NotebookNode, after: str, source: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` with a code cell ``source`` after the first cell containing ``after``."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    k = next(i for i, c in enumerate(nb.cells) if after in c.source)
    nb.cells.insert(k + 1, nbformat.v4.new_code_cell(source))
    return nb


def _submissions(instructor: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode | str]:
    """Each student's file name and notebook (or raw text, for the file that is not JSON)."""
    stub, _, _ = student_notebook(json.loads(json.dumps(instructor)))
    stub = nbformat.from_dict(stub)
    wrong_elman = ELMAN.replace("h @ W_hh.T", "h @ W_hh")
    no_check = nbformat.from_dict(json.loads(json.dumps(instructor)))
    no_check.cells = [c for c in no_check.cells if "check_param_count" not in c.source]
    return {
        "correct_ch01": instructor,
        "stub_ch01": stub,
        "wrong_ch01": _with(instructor, "elman", wrong_elman),
        "syntax_ch01": _with(instructor, "elman", ELMAN.replace("for x_t in x:", "for x_t in x")),
        "exception_ch01": _with(instructor, "count_params", "raise RuntimeError('oops')\n" + COUNT),
        "raises_ch01": _with(
            instructor, "sequence_loss", "def sequence_loss(logits, targets):\n    return 1 / 0"
        ),
        # an endless loop at the top level that even catches the interrupt (KeyboardInterrupt)
        "loop_ch01": _with(
            instructor,
            "count_params",
            COUNT + "\n\nimport time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
            "    except KeyboardInterrupt:\n        pass",
        ),
        # an endless loop inside the function, met only when the check calls it
        "loop_in_function_ch01": _with(
            instructor, "sequence_loss", "def sequence_loss(logits, targets):\n    while True: pass"
        ),
        "kernel_death_ch01": _insert(instructor, "def count_params", "import os\nos._exit(1)"),
        "deleted_check_ch01": no_check,
        "not_json_ch01": '{"cells": [ this is not JSON',
        # the check redefined in the notebook, with a wrong answer that it would hide
        "redefined_check_ch01": _insert(
            _with(instructor, "elman", wrong_elman),
            "import numpy",
            'ch01.check_elman_forward = lambda f: print("All 4 cases passed.")',
        ),
        # a check_* of the student's own, reached through a fake ch01
        "own_check_ch01": _insert(
            _with(instructor, "count_params", "def count_params(D, H, Q):\n    return 0"),
            "import numpy",
            "import types\n\ndef check_param_count(fn):\n    print('All 4 cases passed.')\n\n"
            "ch01 = types.SimpleNamespace(**{**vars(ch01), 'check_param_count': "
            "check_param_count})",
        ),
        # the check engine patched in place, so that every check prints success
        "patched_engine_ch01": _insert(
            _with(
                instructor, "sequence_loss", "def sequence_loss(logits, targets):\n    return 0.0"
            ),
            "import numpy",
            "import companion.exercises.core as core\n"
            "core.run_cases = lambda title, fn, cases, verbose=True: "
            "print(f'All {len(cases)} cases passed.')\n"
            "import importlib\nimportlib.reload(ch01)",
        ),
        # no chapter in the file name: found from the checks it calls
        "nameless/submission": instructor,
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """Grade every submission in one run of the command line; the CSV rows and feedback."""
    base = tmp_path_factory.mktemp("grading")
    instructor_dir, submissions = base / "instructor", base / "submissions"
    instructor = tiny_chapter()
    instructor_dir.mkdir()
    nbformat.write(instructor, instructor_dir / "ch01_tiny.ipynb")
    for name, nb in _submissions(instructor).items():
        path = submissions / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nb if isinstance(nb, str) else nbformat.writes(nb))
    out = base / "out" / "grades.csv"
    command = [sys.executable, "-m", "companion.instructor", "grade", str(submissions)]
    command += ["--instructor", str(instructor_dir), "--out", str(out)]
    command += ["--cell-timeout", str(CELL_TIMEOUT), "--notebook-timeout", "120", "--jobs", "2"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    with out.open() as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    feedback = {p.stem: p.read_text() for p in (out.parent / "feedback").glob("*.txt")}
    return {"rows": rows, "feedback": feedback, "stdout": run.stdout, "instructor": instructor}


def _scores(graded: dict, name: str) -> list[int]:
    row = graded["rows"][name]
    return [int(row[k]) for k in KEYS]


def test_the_checks_are_read_from_the_instructor_notebook(graded):
    assert [c.key for c in check_calls(graded["instructor"])] == KEYS
    assert [c.args for c in check_calls(graded["instructor"])] == list(SOLUTIONS)


def test_csv_has_a_row_per_submission_a_column_per_check_and_a_total(graded):
    rows = graded["rows"]
    assert len(rows) == len(_submissions(tiny_chapter()))
    row = rows["correct_ch01"]
    assert list(row) == ["submission", "chapter", "status", *KEYS, "total", "max"]
    assert (row["status"], row["total"], row["max"]) == ("graded", "3", "3")


def test_correct_submission_scores_full_marks(graded):
    assert _scores(graded, "correct_ch01") == [1, 1, 1]
    assert "Score: 3 of 3" in graded["feedback"]["correct_ch01"]


def test_unchanged_student_edition_scores_zero_as_not_implemented(graded):
    assert _scores(graded, "stub_ch01") == [0, 0, 0]
    assert "not implemented yet" in graded["feedback"]["stub_ch01"]


def test_wrong_answer_fails_with_the_checks_message(graded):
    assert _scores(graded, "wrong_ch01") == [0, 1, 1]
    text = graded["feedback"]["wrong_ch01"]
    assert "FAIL  ch01.check_elman_forward (exercise tiny-ex-forward)" in text
    assert "values differ" in text and "hint:" in text


def test_syntax_error_costs_only_that_exercise(graded):
    assert _scores(graded, "syntax_ch01") == [0, 1, 1]
    assert "SyntaxError" in graded["feedback"]["syntax_ch01"]


def test_exception_at_the_top_of_a_cell_costs_only_that_exercise(graded):
    assert _scores(graded, "exception_ch01") == [1, 0, 1]
    assert "RuntimeError: oops" in graded["feedback"]["exception_ch01"]


def test_exception_inside_the_function_costs_only_that_exercise(graded):
    assert _scores(graded, "raises_ch01") == [1, 1, 0]
    assert "ZeroDivisionError" in graded["feedback"]["raises_ch01"]


def test_endless_loop_that_ignores_interrupts_is_cut_by_the_cell_time_limit(graded):
    assert _scores(graded, "loop_ch01") == [1, 0, 1]
    assert f"timeout: timed out after {CELL_TIMEOUT} s" in graded["feedback"]["loop_ch01"]


def test_endless_loop_inside_the_function_costs_only_that_exercise(graded):
    assert _scores(graded, "loop_in_function_ch01") == [1, 1, 0]
    assert "timed out" in graded["feedback"]["loop_in_function_ch01"]


def test_a_cell_that_kills_the_kernel_is_skipped_and_the_rest_graded(graded):
    assert _scores(graded, "kernel_death_ch01") == [1, 1, 1]
    assert "died" in graded["feedback"]["kernel_death_ch01"]


def test_deleted_check_cell_scores_zero_for_that_exercise(graded):
    assert _scores(graded, "deleted_check_ch01") == [1, 0, 1]
    assert "the check cell is missing" in graded["feedback"]["deleted_check_ch01"]


def test_invalid_json_scores_zero_and_is_reported(graded):
    row = graded["rows"]["not_json_ch01"]
    assert row["status"].startswith("not a valid notebook")
    assert _scores(graded, "not_json_ch01") == [0, 0, 0] and row["max"] == "3"
    assert "Not graded: not a valid notebook" in graded["feedback"]["not_json_ch01"]


def test_check_redefined_by_the_student_has_no_effect(graded):
    assert _scores(graded, "redefined_check_ch01") == [0, 1, 1]
    assert "official check: ExerciseCheckFailed" in graded["feedback"]["redefined_check_ch01"]


def test_students_own_check_function_has_no_effect(graded):
    assert _scores(graded, "own_check_ch01") == [1, 0, 1]


def test_patched_check_engine_has_no_effect(graded):
    assert _scores(graded, "patched_engine_ch01") == [1, 1, 0]


def test_chapter_found_from_the_checks_when_the_name_has_none(graded):
    row = graded["rows"]["nameless/submission"]
    assert (row["chapter"], row["total"]) == ("ch01", "3")
    assert "nameless__submission" in graded["feedback"]


def test_grading_cell_imports_the_check_afresh():
    [call] = check_calls(tiny_chapter())[:1]
    source = grader.grading_cell(call, "t0k3n").source
    assert "del sys.modules[name]" in source and "importlib.import_module" in source
    assert "check(elman)" in source and "'t0k3n'" in source
    compile(source, "grading cell", "exec")


def test_missing_folder_and_empty_folder_are_clear_errors(tmp_path):
    from companion.instructor.__main__ import main

    nbformat.write(tiny_chapter(), tmp_path / "ch01_tiny.ipynb")
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty"), "--instructor", str(tmp_path)]) == 2
    assert main(["grade", str(tmp_path / "empty"), "--instructor", str(tmp_path / "empty")]) == 2
