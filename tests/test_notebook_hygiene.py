"""Every committed notebook is one that a reader can trust: run in order, cleanly, here.

Besides the run itself, a chapter meets the book's mechanisms: a hidden first cell that
installs companion outside this repository, ``companion.setup`` in the first visible code
cell, every image a labelled figure with a caption and alt text that the prose refers to,
and the first use of every glossary term linked to the glossary.
"""

import json
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
MACHINE_PATH = re.compile(
    r"(/root/|/home/\w+|/Users/\w+|/tmp/ipykernel_|/work/|site-packages/|C:\\\\Users)"
)
IGNORE_MARKERS = re.compile(r"NBVAL_(IGNORE_OUTPUT|SKIP|RAISES_EXCEPTION)")


def _code_cells(path):
    nb = json.loads(path.read_text())
    return nb, [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernel_is_python3(path):
    nb, _ = _code_cells(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_ran_in_order_from_one(path):
    _, cells = _code_cells(path)
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts}; re-run the notebook top to bottom in a fresh "
        "kernel (jupyter nbconvert --execute --inplace)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_errors_and_no_machine_paths(path):
    _, cells = _code_cells(path)
    for k, cell in enumerate(cells):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"{path.name}, code cell {k}: {out['ename']}"
            text = json.dumps(out.get("text", "")) + json.dumps(
                out.get("data", {}).get("text/plain", "")
            )
            match = MACHINE_PATH.search(text)
            assert not match, f"{path.name}, code cell {k}: output shows {match.group(0)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_say_why(path):
    """An nbval ignore marker is allowed only with a comment on the same cell saying why."""
    _, cells = _code_cells(path)
    for k, cell in enumerate(cells):
        src = "".join(cell["source"])
        if IGNORE_MARKERS.search(src) or set(cell["metadata"].get("tags", [])) & {
            "nbval-ignore-output",
            "nbval-skip",
        }:
            reason = re.search(r"#.*(because|why|varies|timing|wall-clock)", src, re.I)
            assert reason, f"{path.name}, code cell {k}: ignored output without a reason"


# The first code cell of every chapter, removed from the HTML by its tag. Its URL and branch
# are those of `repository:` in _config.yml, where the launch buttons take them from.
INSTALL_TAG = "remove-cell"
INSTALL_CELL = """\
# Outside this repository (Colab, Binder, a downloaded notebook) this installs the book's
# companion package from its public repository; here companion is installed: it does nothing.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("companion") is None:
    source = "git+{url}@{branch}"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)
    importlib.invalidate_caches()"""


def install_cell_source() -> str:
    """The exact source of the install cell, for the repository set in _config.yml."""
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return INSTALL_CELL.format(url=repo["url"].rstrip("/"), branch=repo["branch"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_companion_outside_the_repository(path):
    _, cells = _code_cells(path)
    first = cells[0]
    assert "".join(first["source"]) == install_cell_source(), (
        f"{path.name}: the first code cell must be exactly the install cell "
        f"(tests/test_notebook_hygiene.py, INSTALL_CELL):\n{install_cell_source()}"
    )
    assert INSTALL_TAG in first["metadata"].get("tags", []), (
        f"{path.name}: tag the install cell {INSTALL_TAG!r} so that the book does not show it"
    )
    assert not first["outputs"], f"{path.name}: the install cell printed something here"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_visible_code_cell_calls_setup(path):
    _, cells = _code_cells(path)
    visible = [c for c in cells if INSTALL_TAG not in c["metadata"].get("tags", [])]
    assert visible and "setup(" in "".join(visible[0]["source"]), (
        f"{path.name}: the first visible code cell must call companion.setup"
    )


def _image_cells(nb):
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if any(
            mime.startswith("image/")
            for out in cell.get("outputs", [])
            for mime in out.get("data", {})
        ):
            yield k, cell


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_image_is_a_referenced_figure_with_alt_text(path):
    """Alt text for screen readers; a label, a caption and a reference in the prose."""
    nb = json.loads(path.read_text())
    prose = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for k, cell in _image_cells(nb):
        mystnb = cell["metadata"].get("mystnb", {})
        alt = mystnb.get("image", {}).get("alt", "").strip()
        assert alt, f"{path.name}, cell {k}: an image without alt text (mystnb.image.alt)"
        figure = mystnb.get("figure", {})
        name, caption = figure.get("name", ""), figure.get("caption", "").strip()
        assert name.startswith("fig-") and caption, (
            f"{path.name}, cell {k}: make the image a figure, mystnb.figure.name 'fig-...' "
            "and mystnb.figure.caption"
        )
        assert f"{{numref}}`{name}`" in prose, (
            f"{path.name}: figure {name} is never referred to as {{numref}}`{name}`"
        )


# --- glossary links --------------------------------------------------------------------------
GLOSSARY = ROOT / "book" / "glossary.md"

# Markdown that is not running prose: headings, targets, directive fences and options,
# code, math, roles (including {term} links themselves), links and HTML.
_NOT_PROSE = re.compile(
    r"^[ \t]*(#.*|\(.*\)=|```.*|:[\w-]+:.*)$"
    r"|\$\$[\s\S]*?\$\$"
    r"|\$[^$\n]+\$"
    r"|\{[\w:-]+\}`[^`]*`"
    r"|``[\s\S]*?``|`[^`]+`"
    r"|\[[^\]]*\]\([^)]*\)"
    r"|<[^>\n]+>",
    re.MULTILINE,
)
TERM_ROLE = re.compile(r"\{term\}`([^`]*)`")


def glossary_entries() -> list[list[str]]:
    """The glossary's entries, each the list of its term lines (English and Chinese)."""
    body = GLOSSARY.read_text().split("```{glossary}", 1)[1].split("\n```", 1)[0]
    entries, current = [], []
    for line in body.splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if line[0].isspace():  # a definition line closes the entry's list of terms
            if current:
                entries.append(current)
            current = []
        else:
            current.append(line.strip())
    return entries


def prose(text: str) -> str:
    """``text`` with everything that is not running prose blanked out (offsets are kept)."""
    return _NOT_PROSE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def term_pattern(term: str) -> re.Pattern:
    """A term as a whole word, case-insensitive, optionally plural, across line breaks."""
    words = r"\s+".join(re.escape(word) for word in term.split())
    return re.compile(r"(?<![\w-])" + words + r"(e?s)?(?![\w-])", re.IGNORECASE)


def linked_target(role_text: str) -> str:
    """The glossary term a {term} role points to: `text <term>` or `term`."""
    m = re.fullmatch(r"(?s).*<([^<>]+)>\s*", role_text)
    return " ".join((m.group(1) if m else role_text).split()).lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_use_of_every_glossary_term_is_linked(path):
    """Where a glossary term first appears in a chapter's prose, it links to the glossary.

    A use of the word in another sense is declared in the notebook's metadata,
    ``"glossary_ignore": {"temperature": "the weather, not the sampling temperature"}``.
    """
    nb = json.loads(path.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    entries = glossary_entries()
    known = {term.lower(): k for k, terms in enumerate(entries) for term in terms}
    # a word that looks like a term but means something else here: {"term": "why"}
    ignore = nb["metadata"].get("glossary_ignore", {})
    for term, why in ignore.items():
        assert term.lower() in known and why.strip(), f"{path.name}: glossary_ignore {term!r}"
    first_link: dict[int, tuple[int, int]] = {}
    for i, text in enumerate(cells):
        for m in TERM_ROLE.finditer(text):
            target = linked_target(m.group(1))
            assert target in known, f"{path.name}: {{term}} link to {target!r}, not in the glossary"
            first_link.setdefault(known[target], (i, m.start()))
    # every use of every term: (cell, start, end, entry, text)
    uses = [
        (i, m.start(), m.end(), k, m.group(0))
        for k, terms in enumerate(entries)
        if not any(t in ignore for t in terms)
        for pattern in [term_pattern(t) for t in terms if t.isascii()]
        for i, text in enumerate(cells)
        for m in pattern.finditer(prose(text))
    ]
    # "gate" inside "forget gate" is a use of "forget gate" only
    uses = [
        u
        for u in uses
        if not any(
            v[0] == u[0] and v[1] <= u[1] and u[2] <= v[2] and v[2] - v[1] > u[2] - u[1]
            for v in uses
        )
    ]
    problems = []
    for k, terms in enumerate(entries):
        mine = sorted((i, start, word) for i, start, _, entry, word in uses if entry == k)
        if not mine:
            continue
        i, start, word = mine[0]
        word = " ".join(word.split())
        if k not in first_link or first_link[k] > (i, start):
            context = cells[i][max(0, start - 40) : start + 40].replace("\n", " ")
            role = word if word.lower() == terms[0].lower() else f"{word} <{terms[0]}>"
            problems.append(
                f"{terms[0]!r}: first used in markdown cell {i} ('...{context}...'); "
                f"write {{term}}`{role}` there"
            )
    assert not problems, f"{path.name}: glossary terms not linked at their first use:\n" + (
        "\n".join(problems)
    )
