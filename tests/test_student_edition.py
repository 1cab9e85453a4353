"""The student edition: no solution survives, every stub fails its check cleanly.

The edition is built once from the book into a temporary folder. The search for solutions
here is written independently of the builder (plain regular expressions over the
instructor's chapters), and the package's own leak check (``companion.instructor.leaks``)
must agree. Each student notebook is then executed: its exercise section, with the chapter
cells whose names it reads (the rest of the chapter is the instructor's code, which nbval
runs), must run cleanly up to its first exercise check, which must fail with the check's
"not implemented yet" message.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
import pathlib
import re
import textwrap

import nbformat
import pytest
from nbclient import NotebookClient

from companion.instructor import leaks
from companion.instructor.myst import iter_directives, strip_solutions
from companion.instructor.stubs import stub_source
from companion.instructor.student import build_student_edition, student_notebook

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("ch*.ipynb"))
CHECK_CALL = re.compile(r"\bch\d{2}\.check_\w+\(")
SOLUTION_BLOCK = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,}|:{3,})\{solution\}[^\n]*\n(?P<body>.*?)^[ \t]*(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
KEPT_IN_STUBS = ("def ", "async def ", "class ", "@", "import ", "from ", "#")


def _sources(nb: dict) -> list[tuple[dict, str]]:
    return [(c, "".join(c["source"])) for c in nb["cells"]]


def _is_solution(cell: dict) -> bool:
    return cell["cell_type"] == "code" and "solution" in cell["metadata"].get("tags", [])


def _docstring_lines(code: str) -> set[str]:
    lines = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and ast.get_docstring(node):
            lines |= {line.strip() for line in ast.get_docstring(node, clean=False).splitlines()}
    return lines


def solution_lines(paths: list[pathlib.Path]) -> dict[str, str]:
    """Distinctive solution lines of the chapters: over 25 characters, not shown elsewhere.

    A line that also occurs outside the solutions (in a chapter's other cells or in a page of
    the book) gives nothing away and is left out.
    """
    secret, visible = {}, [p.read_text() for p in (ROOT / "book").rglob("*.md")]
    for path in paths:
        for k, (cell, source) in enumerate(_sources(json.loads(path.read_text()))):
            where = f"{path.name}, cell {k}"
            if _is_solution(cell):
                kept = _docstring_lines(source)
                for line in map(str.strip, source.splitlines()):
                    if not line.startswith(KEPT_IN_STUBS) and line not in kept:
                        secret.setdefault(line, where)
                continue
            for block in SOLUTION_BLOCK.finditer(source):
                for line in block["body"].splitlines():
                    if not line.strip().startswith(":"):
                        secret.setdefault(line.strip(), where + ", {solution}")
            visible.append(SOLUTION_BLOCK.sub("", source))
    shown = "\n".join(visible)
    return {s: w for s, w in secret.items() if len(s) > 25 and s not in shown}


def student_text(path: pathlib.Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text()
    nb = json.loads(path.read_text())
    return "\n".join(src + json.dumps(c.get("outputs", [])) for c, src in _sources(nb))


def _digest(paths: list[pathlib.Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    """The student edition of the book, and digests of the instructor files around the build."""
    instructor_files = sorted((ROOT / "book").rglob("*.ipynb")) + sorted(
        (ROOT / "book").rglob("*.md")
    )
    before = _digest(instructor_files)
    report = build_student_edition(ROOT, tmp_path_factory.mktemp("student") / "edition")
    return {"report": report, "before": before, "after": _digest(instructor_files)}


def _student_path(edition, chapter: pathlib.Path) -> pathlib.Path:
    return edition["report"].out / "book" / chapter.name


def test_there_are_chapters_with_exercises():
    assert CHAPTERS and any(CHECK_CALL.search(p.read_text()) for p in CHAPTERS)


def test_instructor_notebooks_and_pages_are_untouched(edition):
    assert edition["after"] == edition["before"]


def test_every_chapter_has_a_student_notebook(edition):
    assert sorted(p.name for p in edition["report"].notebooks) == [p.name for p in CHAPTERS]


def test_no_solution_line_in_any_student_file(edition):
    secret = solution_lines(CHAPTERS)
    assert len(secret) > 10 * len(CHAPTERS), "the search found too few solution lines"
    files = [p for p in edition["report"].out.rglob("*") if p.suffix in (".ipynb", ".md")]
    found = [
        f"{path.name}: {line!r} (from {where})"
        for path in files
        for line, where in secret.items()
        if line in student_text(path)
    ]
    assert not found, "solutions in the student edition:\n" + "\n".join(found)


def test_package_leak_check_agrees_and_does_find_solutions(edition):
    secrets = leaks.secret_lines(leaks.instructor_sources(ROOT, ["book"]))
    assert not leaks.find_leaks(secrets, leaks.student_files(edition["report"].out))
    in_book = {leak.path.name for leak in leaks.find_leaks(secrets, CHAPTERS)}
    with_solutions = {
        p.name for p in CHAPTERS if re.search(r'"solution"|\{solution\}', p.read_text())
    }
    assert in_book == with_solutions  # the check sees every chapter's solutions in the book


def test_no_solution_block_left_and_every_exercise_kept(edition):
    for chapter in CHAPTERS:
        names = {}
        for label, path in [("book", chapter), ("student", _student_path(edition, chapter))]:
            text = "\n".join(
                s for c, s in _sources(json.loads(path.read_text())) if c["cell_type"] == "markdown"
            )
            names[label] = [d.name for d in iter_directives(text)]
        assert "solution" not in names["student"], chapter.name
        assert names["student"].count("exercise") == names["book"].count("exercise"), chapter.name


def test_solution_cells_become_visible_stubs_with_the_same_signatures(edition):
    for chapter in CHAPTERS:
        book = json.loads(chapter.read_text())["cells"]
        student = {
            c["id"]: c for c in json.loads(_student_path(edition, chapter).read_text())["cells"]
        }
        for cell in filter(_is_solution, book):
            stub = student[cell["id"]]
            source = "".join(stub["source"])
            assert "# your code here" in source and "raise NotImplementedError" in source
            assert not {"hide-input", "solution"} & set(stub["metadata"].get("tags", []))
            signatures = [
                [
                    (n.name, ast.dump(n.args))
                    for n in ast.parse(s).body
                    if isinstance(n, ast.FunctionDef)
                ]
                for s in ("".join(cell["source"]), source)
            ]
            assert signatures[0] == signatures[1], f"{chapter.name}: {signatures}"


def test_every_output_is_cleared(edition):
    for path in edition["report"].notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


EXERCISES_HEADING = re.compile(r"^#+ .*\bExercises\b", re.MULTILINE)


def _bindings(source: str) -> tuple[set[str], set[str]]:
    """Names a cell binds (anywhere in it), and names it reads that it does not bind.

    An approximation from the syntax tree: a name it misses shows up as a NameError when the
    cells run, which the test reports, so it cannot make the test pass wrongly."""
    tree = ast.parse(source)
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
    return bound, read - bound - set(dir(builtins))


def cells_to_run(student: dict, instructor: dict, name: str) -> list[int]:
    """The student notebook's cells that the exercises need: the exercise section, and the
    chapter cells that bind the names it reads (found transitively), plus ``setup``'s cell.

    The chapter's body is checked to be the instructor's code, cell for cell, which nbval
    runs in full; so running it again here would prove nothing new. Only what the exercises
    read is run again, in order, to show that the student notebook works without the
    solutions.
    """
    cells = student["cells"]
    start = next(
        (
            i
            for i, c in enumerate(cells)
            if c["cell_type"] == "markdown" and EXERCISES_HEADING.search("".join(c["source"]))
        ),
        None,
    )
    assert start is not None, f"{name}: no Exercises heading"
    body = [
        ("".join(c["source"]), i) for i, c in enumerate(cells[:start]) if c["cell_type"] == "code"
    ]
    theirs = [c for c in instructor["cells"] if c["cell_type"] == "code"]
    assert [src for src, _ in body] == ["".join(c["source"]) for c in theirs[: len(body)]], (
        f"{name}: the student edition changed a code cell before the exercises"
    )
    wanted = {i for i, c in enumerate(cells) if i >= start and c["cell_type"] == "code"}
    wanted |= {i for src, i in body if "setup(" in src}
    binders = [(i, _bindings(src)[0]) for src, i in body]
    todo = set().union(*(_bindings("".join(cells[i]["source"]))[1] for i in wanted))
    seen: set[str] = set()
    while todo - seen:
        name_ = (todo - seen).pop()
        seen.add(name_)
        for i, bound in reversed(binders):
            if name_ in bound:
                if i not in wanted:
                    wanted.add(i)
                    todo |= _bindings("".join(cells[i]["source"]))[1]
                break
    return sorted(wanted)


def run_student_notebook(edition, chapter):
    """What the exercises need runs cleanly; every check says "not implemented yet"."""
    path = _student_path(edition, chapter)
    nb = nbformat.read(path, as_version=4)
    checks = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and CHECK_CALL.search(c.source)
    ]
    if not checks:
        pytest.skip(f"{chapter.name} has no exercise checks")
    run = cells_to_run(json.loads(path.read_text()), json.loads(chapter.read_text()), chapter.name)
    assert set(checks) <= set(run)
    sub = nbformat.v4.new_notebook(metadata=nb.metadata)
    sub.cells = [nb.cells[i] for i in run]
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(
        sub, timeout=900, kernel_name="python3", allow_errors=True, resources=resources
    ).execute()
    for i, cell in zip(run, sub.cells, strict=True):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if not errors:
            continue
        [error] = errors
        where = f"{chapter.name}, cell {i}: {error.ename}: {error.evalue[:300]}"
        assert i >= checks[0], "the notebook fails before its first exercise check: " + where
        if i in checks:
            assert error.ename == "ExerciseCheckFailed", where
            assert "not implemented yet" in error.evalue, where
        else:  # a later cell that uses a stub
            assert error.ename in ("NotImplementedError", "ExerciseCheckFailed"), where
    first = [o for o in sub.cells[run.index(checks[0])].outputs if o.output_type == "error"]
    assert first, f"{chapter.name}: the first check passed with a stub in place"


def test_cells_to_run_follows_the_names_the_exercises_read():
    def nb(*cells):
        return {
            "cells": [
                {"cell_type": "markdown" if s.startswith("#") else "code", "source": s}
                for s in cells
            ]
        }

    chapter = nb(
        "import numpy as np\nfrom companion import setup\nrng = setup()",
        "x = np.ones(3)",
        "y = 2 * x",
        "slow = train_for_an_hour()",
        "## Exercises",
        "print(y)",
    )
    assert cells_to_run(chapter, chapter, "toy") == [0, 1, 2, 5]
    changed = nb("import numpy as np", "x = 1", "## Exercises", "print(x)")
    with pytest.raises(AssertionError, match="changed a code cell"):
        cells_to_run(changed, nb("import numpy as np", "x = 2", "## Exercises"), "toy")


# One class per chapter, so that each chapter's run is a unit of its own for
# ``pytest --dist loadscope`` (tests/conftest.py): the two workers then share them out.
for _chapter in CHAPTERS:
    _name = "TestStudentNotebook_" + _chapter.stem
    globals()[_name] = type(
        _name,
        (),
        {
            "chapter": _chapter,
            "test_runs_to_its_first_check_which_fails_cleanly": (
                lambda self, edition: run_student_notebook(edition, self.chapter)
            ),
        },
    )


# The builder's pieces, on small inputs -------------------------------------------------


def test_solution_with_a_longer_fence_and_a_code_block_inside_is_removed_whole():
    text = textwrap.dedent(
        """\
        Before.

        ````{solution} ex-1
        :class: dropdown

        Use this:
        ```python
        secret = 42
        ```
        ````

        After."""
    )
    assert strip_solutions(text) == "Before.\n\nAfter."


def test_solution_inside_a_code_example_is_literal_and_kept():
    text = "````markdown\n```{solution} ex-1\nshown as an example\n```\n````"
    assert strip_solutions(text) == text


def test_colon_fences_and_solutions_nested_in_other_directives():
    text = textwrap.dedent(
        """\
        :::{solution} ex-1
        secret one
        :::
        ::::{admonition} Note
        Kept.
        :::{solution} ex-2
        secret two
        :::
        ::::"""
    )
    result = strip_solutions(text)
    assert "secret" not in result and "Kept." in result and "{admonition}" in result


def test_an_unclosed_solution_runs_to_the_end_as_in_myst():
    assert strip_solutions("Text.\n\n```{solution} ex\n:class: dropdown\nsecret") == "Text."


def test_exercise_blocks_and_other_text_are_unchanged():
    text = "```{exercise} Title\n:label: ex\n\nDo it.\n```\n\nMore text."
    assert strip_solutions(text) == text


def test_gated_solution_across_cells_is_removed_with_its_code_cells():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(
        cells=[
            md("```{exercise} E\n:label: e\n```"),
            md("Intro.\n\n```{solution-start} e\n:class: dropdown\n```\nSecret text."),
            code("secret_code = 1"),
            md("More secret.\n\n```{solution-end}\n```\n\nVisible again."),
            code("visible_code = 2"),
        ]
    )
    student, _, removed = student_notebook(json.loads(nbformat.writes(nb)))
    text = "\n".join("".join(c["source"]) for c in student["cells"])
    assert "ecret" not in text and "Intro." in text and "Visible again." in text
    assert "visible_code = 2" in text and removed == 1


def test_stub_keeps_decorators_signature_and_docstring_and_nothing_else():
    source = textwrap.dedent(
        '''\
        import numpy as np

        @np.vectorize
        def f(x,   # the input
              y=lambda q: q) -> float:  # a comment that is part of the solution
            """Add one."""
            secret_line = x + 1
            return secret_line

        class C:
            def g(self): return "secret"

        answer = 42
        print("secret")
        '''
    )
    stub = stub_source(source)
    assert "secret" not in stub and "42" not in stub and "comment" not in stub
    assert "import numpy as np" in stub and "@np.vectorize" in stub
    assert "def f(x,   # the input\n      y=lambda q: q) -> float:" in stub
    assert '    """Add one."""\n    # your code here\n    raise NotImplementedError' in stub
    assert "    def g(self):\n        # your code here" in stub and "answer = None" in stub
    compile(stub, "stub", "exec")


def test_stub_of_a_cell_that_is_not_python_says_where():
    with pytest.raises(ValueError, match="not valid Python.*line 2"):
        stub_source("def f(x):\n    return (x")


def test_edition_refuses_to_overwrite_the_book_or_an_unrelated_folder(tmp_path):
    with pytest.raises(ValueError, match="goes under"):
        build_student_edition(ROOT, ROOT / "book")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a student edition"):
        build_student_edition(ROOT, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


# The page for instructors ------------------------------------------------------------------


def test_instructors_page_lists_every_exercise_and_check():
    """book/instructors.md lists each chapter's exercises; `companion.instructor list` helps."""
    from companion.instructor.exercises import exercises, read_notebook

    page = (ROOT / "book" / "instructors.md").read_text()
    missing = [
        f"{chapter.name}: {item}"
        for chapter in CHAPTERS
        for exercise in exercises(read_notebook(chapter))
        for item in [f"{{ref}}`{exercise.label}`", *(f"`{c.key}`" for c in exercise.checks)]
        if item not in page
    ]
    assert not missing, (
        "book/instructors.md does not list these exercises or checks (see the output of "
        "`python -m companion.instructor list`):\n" + "\n".join(missing)
    )
