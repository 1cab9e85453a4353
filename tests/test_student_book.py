"""The student HTML book builds strictly and shows no solution.

The edition is built with the chapters' figures kept (``--keep-body-outputs``), as
``make student-book`` does, then turned into HTML with the strict options of the book's own
build; every distinctive solution line is then searched in every page.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from companion.instructor import leaks

ROOT = pathlib.Path(__file__).resolve().parents[1]
JUPYTER_BOOK = pathlib.Path(sys.executable).parent / "jupyter-book"


@pytest.fixture(scope="module")
def student_html(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("student-book") / "edition"
    command = [sys.executable, "-m", "companion.instructor", "student", "--out", str(out)]
    subprocess.run([*command, "--keep-body-outputs"], check=True, capture_output=True, cwd=ROOT)
    build = [str(JUPYTER_BOOK), "build", str(out), "-W", "-n", "--keep-going"]
    run = subprocess.run(build, capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return out / "_build" / "html"


def test_student_html_book_has_every_chapter_and_the_stubs(student_html):
    pages = {p.name for p in (student_html / "book").glob("ch*.html")}
    assert pages == {p.stem + ".html" for p in (ROOT / "book").glob("ch*.ipynb")}
    text = (student_html / "book" / "ch01_recurrent_cell.html").read_text()
    assert "your code here" in text and "NotImplementedError" in text


def test_student_html_book_has_no_solution(student_html):
    secrets = leaks.secret_lines(leaks.instructor_sources(ROOT, ["book"]))
    pages = leaks.student_files(student_html)
    assert len(pages) > 10 and len(secrets) > 50
    found = leaks.find_leaks(secrets, pages)
    assert not found, "\n".join(f"{x.path.name}: {x.line!r} ({x.origin})" for x in found)
    for page in (student_html / "book").glob("ch*.html"):
        assert 'class="solution' not in page.read_text(), page.name
