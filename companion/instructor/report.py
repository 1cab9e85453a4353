"""Write the grades: a CSV with one row per submission, and a feedback file per submission."""

from __future__ import annotations

import csv
import pathlib

from companion.instructor.exercises import check_calls, read_notebook
from companion.instructor.grader import SubmissionResult, instructor_notebooks

FEEDBACK_LINES, FEEDBACK_WIDTH = 16, 240  # the most of a check's report a feedback file shows


def columns(results: list[SubmissionResult], instructor_dir: pathlib.Path) -> list[str]:
    """The exercise columns: every check of every chapter that some submission is for."""
    instructor = instructor_notebooks(instructor_dir)
    chapters = sorted({r.chapter for r in results if r.chapter in instructor})
    return [c.key for ch in chapters for c in check_calls(read_notebook(instructor[ch]))]


def write_csv(results: list[SubmissionResult], keys: list[str], path: pathlib.Path) -> None:
    """One row per submission: its status, 1 or 0 per check of its chapter, total, maximum."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "chapter", "status", *keys, "total", "max"])
        for r in results:
            scores = {c.key: int(c.passed) for c in r.checks}
            row = [scores.get(k, 0 if k.startswith(f"{r.chapter}.") else "") for k in keys]
            n_max = sum(k.startswith(f"{r.chapter}.") for k in keys)
            status = r.status.splitlines()[0]
            writer.writerow([r.submission, r.chapter or "", status, *row, r.score, n_max])


def feedback_text(result: SubmissionResult) -> str:
    """The short feedback for one submission: each check, passed or why not, and problems."""
    lines = [f"Submission: {result.submission}", f"Chapter: {result.chapter or 'unknown'}"]
    if result.status != "graded":
        lines.append(f"Not graded: {result.status}")
    lines += [f"Score: {result.score} of {len(result.checks)} checks passed", ""]
    for check in result.checks:
        exercise = f" (exercise {check.label})" if check.label else ""
        lines.append(f"{'PASS' if check.passed else 'FAIL'}  {check.key}{exercise}")
        for message in check.messages:
            shown = message.splitlines()[:FEEDBACK_LINES]
            lines += ["      " + m[:FEEDBACK_WIDTH] for m in shown]
    if result.problems:
        lines += ["", "Cells that did not run cleanly:"] + ["  " + p for p in result.problems]
    return "\n".join(lines) + "\n"


def write_feedback(results: list[SubmissionResult], folder: pathlib.Path) -> list[pathlib.Path]:
    """One text file per submission in ``folder``, named after the submission."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for result in results:
        path = folder / (result.submission.replace("/", "__") + ".txt")
        path.write_text(feedback_text(result), encoding="utf-8")
        written.append(path)
    return written
