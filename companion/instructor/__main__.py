"""Command line: ``python -m companion.instructor {student,verify,grade,list} ...``.

    python -m companion.instructor student [--out _build/student] [--keep-body-outputs]
    python -m companion.instructor verify [EDITION] [--root .]
    python -m companion.instructor grade SUBMISSIONS [--out _build/grades/grades.csv]
    python -m companion.instructor list

Grading executes the submitted notebooks: run it in a container or sandbox you control.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from companion.instructor import exercises, grader, leaks, report, student


def _student(args: argparse.Namespace) -> int:
    report = student.build_student_edition(args.root, args.out, args.keep_body_outputs)
    print(
        f"student edition: {len(report.notebooks)} notebooks, {report.stubs} solution cells "
        f"replaced by stubs, {report.solution_blocks} solution blocks removed"
    )
    for path in report.notebooks:
        print(f"  {path}")
    status = _verify_edition(args.root, report.out, report.source_dirs)
    print(f"build its HTML book with: jupyter-book build {report.out}")
    return status


def _verify_edition(root: pathlib.Path, edition: pathlib.Path, folders: list[str]) -> int:
    """Search every solution line of the book at ``root`` in the files of ``edition``."""
    secrets = leaks.secret_lines(leaks.instructor_sources(root, folders))
    files = leaks.student_files(edition)
    if not files:
        raise ValueError(f"no notebooks, Markdown or HTML pages under {edition}")
    found = leaks.find_leaks(secrets, files)
    for leak in found:
        print(f"LEAK {leak.path}: {leak.line!r} (from {leak.origin})", file=sys.stderr)
    verdict = f"{len(found)} found" if found else "none found"
    print(f"searched {len(secrets)} solution lines in {len(files)} student files: {verdict}")
    return 1 if found else 0


def _verify(args: argparse.Namespace) -> int:
    return _verify_edition(args.root, args.edition, student.source_dirs(args.root))


def _grade(args: argparse.Namespace) -> int:
    limits = grader.Limits(args.cell_timeout, args.notebook_timeout, args.kernel)
    started = time.monotonic()
    results = grader.grade_folder(args.submissions, args.instructor, limits, args.jobs)
    keys = report.columns(results, args.instructor)
    report.write_csv(results, keys, args.out)
    feedback = args.feedback or args.out.parent / "feedback"
    report.write_feedback(results, feedback)
    for r in results:
        status = "" if r.status == "graded" else f"  ({r.status.splitlines()[0]})"
        print(f"{r.submission}: {r.score} of {len(r.checks)}{status}")
    elapsed = time.monotonic() - started
    print(f"graded {len(results)} submissions in {elapsed:.0f} s")
    print(f"scores: {args.out}\nfeedback: {feedback}/")
    return 0


def _list(args: argparse.Namespace) -> int:
    paths = sorted(pathlib.Path(args.instructor).glob("ch*.ipynb"))
    print(exercises.exercise_table(paths))
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of the command line."""
    p = argparse.ArgumentParser(
        prog="python -m companion.instructor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("student", help="build the student edition (no solutions)")
    s.add_argument("--root", type=pathlib.Path, default=pathlib.Path("."), help="the book")
    s.add_argument("--out", type=pathlib.Path, default=pathlib.Path("_build/student"))
    s.add_argument(
        "--keep-body-outputs",
        action="store_true",
        help="keep the outputs before the exercises (figures), for the HTML book",
    )
    s.set_defaults(run=_student)

    v = sub.add_parser("verify", help="search a student edition (or its HTML) for solutions")
    v.add_argument("edition", type=pathlib.Path, nargs="?", default=pathlib.Path("_build/student"))
    v.add_argument("--root", type=pathlib.Path, default=pathlib.Path("."), help="the book")
    v.set_defaults(run=_verify)

    g = sub.add_parser("grade", help="grade a folder of submitted notebooks")
    g.add_argument("submissions", type=pathlib.Path, help="folder of .ipynb files (recursive)")
    g.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("_build/grades/grades.csv"),
        help="the CSV of scores (default: _build/grades/grades.csv)",
    )
    g.add_argument(
        "--feedback", type=pathlib.Path, help="folder of feedback files (default: beside --out)"
    )
    g.add_argument(
        "--instructor",
        type=pathlib.Path,
        default=pathlib.Path("book"),
        help="folder of the instructor's chapter notebooks",
    )
    g.add_argument("--cell-timeout", type=float, default=300.0, help="seconds per cell")
    g.add_argument("--notebook-timeout", type=float, default=1800.0, help="seconds per notebook")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    g.add_argument("--kernel", default="python3", help="Jupyter kernel to run submissions in")
    g.set_defaults(run=_grade)

    ls = sub.add_parser("list", help="list the exercises and checks of every chapter")
    ls.add_argument("--instructor", type=pathlib.Path, default=pathlib.Path("book"))
    ls.set_defaults(run=_list)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors in the arguments or the inputs exit with status 2."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
