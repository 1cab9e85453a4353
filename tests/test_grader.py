"""The grader: one run over a folder of submissions, each broken in its own way.

The instructor notebooks are tiny chapters built here (the three code exercises of chapter 1,
``elman``, ``count_params`` and ``sequence_loss``, with their checks; two exercises of
chapters 2 and 4 and one of chapter 7), not real chapters, so that the whole folder is graded
in about a minute. Every broken submission must cost only its own affected exercises, and a
submission that hands what an exercise asks to be written by hand to the companion's
reference (or to autograd) must score 0 for it and be told why, while chapter 2's truncated
gradients, built from ``rnn.forward`` and ``rnn.backward`` as the exercise says, score 1: each
case below is a test of the same grader run.
"""

from __future__ import annotations

import csv
import importlib
import json
import pathlib
import re
import subprocess
import sys
import threading

import nbformat
import numpy as np
import pytest

from companion.exercises import core
from companion.instructor import grader
from companion.instructor.exercises import check_calls, forbidden_mentions
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


CH01 = [
    ("elman", "check_elman_forward", "tiny-ex-forward"),
    ("count_params", "check_param_count", "tiny-ex-params"),
    ("sequence_loss", "check_sequence_loss", "tiny-ex-loss"),
]


def tiny_chapter(
    chapter: str = "ch01",
    exercises: list[tuple[str, str, str]] = CH01,
    solutions: dict[str, str] = SOLUTIONS,
    imports: str = "",
) -> nbformat.NotebookNode:
    """A chapter-like instructor notebook: ``(function, check, label)`` per code exercise."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    tagged = {"tags": ["solution", "hide-input"]}
    cells = [code(f"import numpy as np\n\nfrom companion.exercises import {chapter}{imports}")]
    for name, check, label in exercises:
        cells += [md(_exercise(name, label)), code(solutions[name], metadata=tagged)]
        cells += [code(f"{chapter}.{check}({name})"), md(_solution(label))]
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


# --- chapters 2, 4 and 7: honest solutions, and solutions that delegate ------------------------
RNN_BACKWARD = """def rnn_backward(dh_seq, x, h0, h_seq, W_ih, W_hh):
    dx = np.empty_like(x)
    dW_ih, dW_hh = np.zeros_like(W_ih), np.zeros_like(W_hh)
    db = np.zeros(W_hh.shape[0])
    dh_next = np.zeros_like(h0)
    for t in range(len(x) - 1, -1, -1):
        da = (dh_seq[t] + dh_next) * (1.0 - h_seq[t] ** 2)
        h_prev = h0 if t == 0 else h_seq[t - 1]
        dW_ih += da.T @ x[t]
        dW_hh += da.T @ h_prev
        db += da.sum(axis=0)
        dx[t] = da @ W_ih
        dh_next = da @ W_hh
    return dx, dh_next, dW_ih, dW_hh, db"""
TRUNCATED = """def truncated_grads(x, h0, params, dh_seq, k):
    total = {name: np.zeros_like(v) for name, v in params.items()}
    h = h0
    for start in range(0, len(x), k):
        _, h_end, cache = rnn.forward(x[start:start + k], h, params)
        _, _, g = rnn.backward(dh_seq[start:start + k], None, cache)
        for name in total:
            total[name] += g[name]
        h = h_end
    return total"""
# The backward left to autograd: the forward in torch (the bias recovered from h_1), .backward()
RNN_BACKWARD_AUTOGRAD = """import torch

def rnn_backward(dh_seq, x, h0, h_seq, W_ih, W_hh):
    x, h0, W_ih, W_hh, h_seq, dh_seq = map(torch.tensor, (x, h0, W_ih, W_hh, h_seq, dh_seq))
    b = (torch.atanh(h_seq[0]) - x[0] @ W_ih.T - h0 @ W_hh.T)[0]
    for leaf in (x, h0, W_ih, W_hh, b):
        leaf.requires_grad_(True)
    h, hs = h0, []
    for x_t in x:
        h = torch.tanh(x_t @ W_ih.T + h @ W_hh.T + b)
        hs.append(h)
    (torch.stack(hs) * dh_seq).sum().backward()
    return tuple(v.grad.numpy() for v in (x, h0, W_ih, W_hh, b))"""
# The reference reached through getattr in a helper, and the companion's own truncation
RNN_BACKWARD_WRAPPED = """def _cache(x, h0, h_seq, W_ih, W_hh):
    a_seq = np.arctanh(h_seq)
    zeros = np.zeros(W_hh.shape[0])
    params = {"W_ih": W_ih, "W_hh": W_hh, "b_ih": zeros, "b_hh": zeros}
    cache = rnn.forward(x, h0, params)[2]
    cache.update(a_seq=a_seq, h_seq=h_seq)
    return cache

def rnn_backward(dh_seq, x, h0, h_seq, W_ih, W_hh):
    backward = getattr(rnn, "backward")
    dx, dh0, g = backward(dh_seq, None, _cache(x, h0, h_seq, W_ih, W_hh))
    return dx, dh0, g["W_ih"], g["W_hh"], g["b_ih"]"""
TRUNCATED_BY_TBPTT = """from companion import tbptt as t

def truncated_grads(x, h0, params, dh_seq, k):
    return t.rnn_truncated_grads(x, h0, params, dh_seq, k)[0]"""
LSTM_STEP = """def lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b):
    a = x_t @ W_ih.T + h_prev @ W_hh.T + b
    H = h_prev.shape[1]
    i, f = 1 / (1 + np.exp(-a[:, :H])), 1 / (1 + np.exp(-a[:, H:2 * H]))
    g, o = np.tanh(a[:, 2 * H:3 * H]), 1 / (1 + np.exp(-a[:, 3 * H:]))
    c = f * c_prev + i * g
    return o * np.tanh(c), c"""
LSTM_STEP_BACKWARD = """def lstm_step_backward(dh, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b):
    H = h_prev.shape[1]
    a = x_t @ W_ih.T + h_prev @ W_hh.T + b
    sig = lambda v: 1 / (1 + np.exp(-v))
    i, f, g, o = sig(a[:, :H]), sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sig(a[:, 3 * H:])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    dc = dc_next + dh * o * (1 - tanh_c**2)
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1)
    return da @ W_ih, da @ W_hh, dc * f, da.T @ x_t, da.T @ h_prev, da.sum(axis=0)"""
LSTM_STEP_BY_THE_REFERENCE = """import companion.ref.lstm as L

def lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b):
    params = {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b, "b_hh": 0 * b}
    return L.step(x_t, (h_prev, c_prev), params)"""
LSTM_STEP_BACKWARD_AUTOGRAD = """import torch
from torch.autograd import grad as differentiate

def lstm_step_backward(dh, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b):
    leaves = [torch.tensor(v, requires_grad=True) for v in (x_t, h_prev, c_prev, W_ih, W_hh, b)]
    x, h0, c0, Wi, Wh, bb = leaves
    i, f, g, o = (x @ Wi.T + h0 @ Wh.T + bb).chunk(4, dim=1)
    c = torch.sigmoid(f) * c0 + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    total = (h * torch.tensor(dh)).sum() + (c * torch.tensor(dc_next)).sum()
    dx, dh0, dc0, dWi, dWh, db = (v.numpy() for v in differentiate(total, leaves))
    return dx, dh0, dc0, dWi, dWh, db"""
SEASONAL = """def seasonal_naive(y, season, horizon):
    return y[-season:][np.arange(horizon) % season]"""
CHAPTERS = {  # chapter -> (exercises, solutions, extra imports)
    "ch02": (
        [
            ("rnn_backward", "check_rnn_backward", "tiny-ch02-backward"),
            ("truncated_grads", "check_truncated_grads", "tiny-ch02-truncated"),
        ],
        {"rnn_backward": RNN_BACKWARD, "truncated_grads": TRUNCATED},
        "\nfrom companion.ref import rnn",
    ),
    "ch04": (
        [
            ("lstm_step", "check_lstm_step", "tiny-ch04-step"),
            ("lstm_step_backward", "check_lstm_step_backward", "tiny-ch04-backward"),
        ],
        {"lstm_step": LSTM_STEP, "lstm_step_backward": LSTM_STEP_BACKWARD},
        "",
    ),
    "ch07": (
        [("seasonal_naive", "check_seasonal_naive", "tiny-ch07-seasonal")],
        {"seasonal_naive": SEASONAL},
        "",
    ),
}
CHAPTER_KEYS = {
    chapter: [f"{chapter}.{check}" for _, check, _ in exercises]
    for chapter, (exercises, _, _) in {"ch01": (CH01, None, None), **CHAPTERS}.items()
}
ELMAN_BY_THE_REFERENCE = """from companion.ref.rnn import forward as run

def elman(x, h0, W_ih, W_hh, b):
    params = {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b, "b_hh": 0 * b}
    return run(x, h0, params)[0]"""
DELEGATED = "your function called {}, which is what this exercise asks you to write by hand"


def instructor_chapters() -> dict[str, nbformat.NotebookNode]:
    """The tiny instructor notebook of each chapter."""
    built = {"ch01": tiny_chapter()}
    for chapter, (exercises, solutions, imports) in CHAPTERS.items():
        built[chapter] = tiny_chapter(chapter, exercises, solutions, imports)
    return built


def _delegating(instructors: dict[str, nbformat.NotebookNode]) -> dict[str, nbformat.NotebookNode]:
    """Submissions of chapters 1, 2, 4 and 7, honest or delegating."""
    ch02, ch04, ch07 = (instructors[c] for c in ("ch02", "ch04", "ch07"))
    return {
        "delegating_ch01": _with(instructors["ch01"], "elman", ELMAN_BY_THE_REFERENCE),
        "correct_ch02": ch02,
        "autograd_ch02": _with(ch02, "rnn_backward", RNN_BACKWARD_AUTOGRAD),
        "wrapped_ch02": _with(
            _with(ch02, "rnn_backward", RNN_BACKWARD_WRAPPED), "truncated_grads", TRUNCATED_BY_TBPTT
        ),
        "correct_ch04": ch04,
        "delegating_ch04": _with(
            _with(ch04, "lstm_step", LSTM_STEP_BY_THE_REFERENCE),
            "lstm_step_backward",
            LSTM_STEP_BACKWARD_AUTOGRAD,
        ),
        "correct_ch07": ch07,
        "delegating_ch07": _with(
            ch07,
            "seasonal_naive",
            "from companion.timeseries import seasonal_naive as sn\n\n"
            "def seasonal_naive(y, season, horizon):\n    return sn(y, season, horizon)",
        ),
    }


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
    instructors = instructor_chapters()
    instructor = instructors["ch01"]
    instructor_dir.mkdir()
    for chapter, nb in instructors.items():
        nbformat.write(nb, instructor_dir / f"{chapter}_tiny.ipynb")
    for name, nb in {**_submissions(instructor), **_delegating(instructors)}.items():
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
    return [int(row[k]) for k in CHAPTER_KEYS[row["chapter"]]]


def test_the_checks_are_read_from_the_instructor_notebook(graded):
    assert [c.key for c in check_calls(graded["instructor"])] == KEYS
    assert [c.args for c in check_calls(graded["instructor"])] == list(SOLUTIONS)


def test_csv_has_a_row_per_submission_a_column_per_check_and_a_total(graded):
    rows = graded["rows"]
    assert len(rows) == len(_submissions(tiny_chapter())) + len(_delegating(instructor_chapters()))
    row = rows["correct_ch01"]
    keys = [k for chapter in sorted(CHAPTER_KEYS) for k in CHAPTER_KEYS[chapter]]
    assert list(row) == ["submission", "chapter", "status", *keys, "total", "max"]
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


# --- what an exercise asks to be written by hand ----------------------------------------------


@pytest.mark.parametrize(
    "name, scores, called",
    [
        ("delegating_ch01", [0, 1, 1], ["companion.ref.rnn.forward"]),
        ("autograd_ch02", [0, 1], ["torch.Tensor.backward"]),
        (
            "wrapped_ch02",
            [0, 0],
            ["companion.ref.rnn.backward", "companion.tbptt.rnn_truncated_grads"],
        ),
        ("delegating_ch04", [0, 0], ["companion.ref.lstm.step", "torch.autograd.grad"]),
        ("delegating_ch07", [0], ["companion.timeseries.seasonal_naive"]),
    ],
)
def test_delegating_to_the_reference_or_to_autograd_scores_zero_and_says_why(
    graded, name, scores, called
):
    assert _scores(graded, name) == scores
    text = graded["feedback"][name]
    for callable_name in called:
        assert DELEGATED.format(callable_name) in text, text


@pytest.mark.parametrize("name", ["correct_ch02", "correct_ch04", "correct_ch07"])
def test_honest_solutions_score_full_marks(graded, name):
    assert _scores(graded, name) == [1] * len(CHAPTER_KEYS[graded["rows"][name]["chapter"]])
    assert "refers to" not in graded["feedback"][name]


def test_truncated_gradients_built_from_rnn_forward_and_backward_score_one(graded):
    """Chapter 2's exercise says to use rnn.forward and rnn.backward: that is no delegation."""
    assert graded["rows"]["correct_ch02"]["ch02.check_truncated_grads"] == "1"
    assert graded["rows"]["autograd_ch02"]["ch02.check_truncated_grads"] == "1"


def test_feedback_names_where_the_code_refers_to_the_reference(graded):
    text = graded["feedback"]["delegating_ch01"]
    assert "elman refers to companion.ref.rnn.forward (cell 3, line 5)" in text
    assert "asks you to write the Elman forward pass by hand" in text
    wrapped = graded["feedback"]["wrapped_ch02"]  # through getattr, in a helper it calls
    assert "rnn_backward refers to companion.ref.rnn.backward (cell" in wrapped


def _checks() -> list:
    modules = [importlib.import_module(f"companion.exercises.ch0{k}") for k in range(1, 9)]
    return [getattr(m, n) for m in modules for n in dir(m) if n.startswith("check_")]


def test_every_check_declares_what_is_written_by_hand_and_every_name_resolves():
    checks = _checks()
    assert len(checks) == 32
    for check in checks:
        declaration = check.by_hand
        assert declaration.what and not set(declaration.forbidden) & set(declaration.allowed)
        for name in (*declaration.forbidden, *declaration.allowed):
            assert core._import(name) is not None, (check.__name__, name)
        table = core._WatchTable(declaration.forbidden)  # torch is imported: nothing waits
        watched = sum(len(names) for names in table.code.values()) + len(table.builtins)
        assert watched >= len(declaration.forbidden) and not table.pending, check.__name__


def _setup_rnn():
    from companion.ref import rnn

    rng = np.random.default_rng(0)
    params = rnn.init_params(2, 3, rng)
    x, h0 = rng.standard_normal((4, 2, 2)), np.zeros((2, 3))
    return rnn.forward(x, h0, params)


def _aliased():
    from companion.ref.rnn import backward as b

    h_seq, _, cache = _setup_rnn()
    return b(h_seq, None, cache)


def _through_a_module_alias_and_getattr():
    import companion.ref.rnn as r

    h_seq, _, cache = _setup_rnn()
    return getattr(r, "backward")(h_seq, None, cache)  # noqa: B009 - the aliasing tested


def _reloaded():
    import companion.ref.rnn as r

    h_seq, _, cache = _setup_rnn()
    return importlib.reload(r).backward(h_seq, None, cache)


def _in_a_thread():
    from companion.ref import rnn

    h_seq, _, cache = _setup_rnn()
    out = []
    worker = threading.Thread(target=lambda: out.append(rnn.backward(h_seq, None, cache)))
    worker.start()
    worker.join()
    return out


def _profiler_switched_off():
    sys.setprofile(None)
    return _aliased()


def _autograd():
    import torch

    t = torch.ones(3, requires_grad=True)
    torch.func.grad(lambda v: (v**2).sum())(t)


@pytest.mark.parametrize(
    "delegating, called",
    [
        (_aliased, "companion.ref.rnn.backward"),
        (_through_a_module_alias_and_getattr, "companion.ref.rnn.backward"),
        (_reloaded, "companion.ref.rnn.backward"),
        (_in_a_thread, "companion.ref.rnn.backward"),
        (_profiler_switched_off, "sys.setprofile"),
        (_autograd, "torch.func.grad"),
    ],
)
def test_the_watch_sees_a_call_however_it_is_reached(delegating, called):
    declaration = core.ByHand("the backward pass", ("companion.ref.rnn.backward", *core.AUTOGRAD))
    with pytest.raises(core.Delegated, match=f"your function called {re.escape(called)}"):
        declaration.watch(delegating)()
    assert sys.getprofile() is None and threading.getprofile() is None
    assert declaration.watch(_setup_rnn)()[0].shape == (4, 2, 3)  # rnn.forward is not watched


def test_a_package_imported_during_the_call_is_watched_from_then_on():
    """In a fresh process without torch, a function that imports it and calls autograd."""
    code = (
        "import sys\n"
        "from companion.exercises import core\n"
        "assert 'torch' not in sys.modules\n"
        "def grad():\n"
        "    import torch\n"
        "    t = torch.ones(2, requires_grad=True)\n"
        "    (t * t).sum().backward()\n"
        "declaration = core.ByHand('a gradient', core.AUTOGRAD)\n"
        "try:\n"
        "    declaration.watch(grad)()\n"
        "except core.Delegated as exc:\n"
        "    print(exc)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.stdout.startswith("your function called torch.Tensor.backward"), run.stderr


def test_forbidden_mentions_resolve_imports_getattr_and_helpers():
    cells = [
        (0, "import companion.ref.rnn as r\nfrom companion.ref.rnn import backward as b"),
        (
            2,
            "def helper(c):\n    return getattr(r, 'backward')(c)\n\n"
            "def f(c):\n    b(c)\n    c.sum().backward()\n    return helper(c)",
        ),
    ]
    found = forbidden_mentions(cells, "f", ["companion.ref.rnn.backward", "torch.Tensor.backward"])
    assert found == [
        "companion.ref.rnn.backward (cell 3, line 2)",
        "companion.ref.rnn.backward (cell 3, line 5)",
        "torch.Tensor.backward (cell 3, line 6)",
    ]
    assert forbidden_mentions(cells, "helper", ["torch.Tensor.backward"]) == []
