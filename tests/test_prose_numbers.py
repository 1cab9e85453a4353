"""Every number in a chapter's prose was printed by one of its cells, or set by one.

The preface promises it; this test keeps the promise. For every chapter, each numeral in the
prose of a Markdown cell or of a figure's caption and alt text (outside equations, code, roles
such as labels, references, terms and citations, and the exercises' solutions) must appear,
at the precision the prose writes it, in an output of that notebook or in the source of one of
its code cells (a setting such as ``steps = 3000``), or be listed with its reason in the
notebook's metadata::

    "prose_numbers_allowed": [{"number": "1997", "reason": "the year of the original LSTM"}]
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("ch*.ipynb"))

_FENCE = re.compile(r"^(`{3,}|:{3,})\s*(\{?[\w-]+\}?)?.*$")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:\s?[x×])?(?![\w])")


def _strip_solutions_and_code(text: str) -> str:
    """Drop fenced blocks that are solutions or code; keep the bodies of other directives."""
    kept, stack = [], []  # stack of (fence, dropped?)
    for line in text.splitlines():
        m = _FENCE.match(line.strip())
        if m:
            fence, kind = m.group(1), (m.group(2) or "")
            if stack and line.strip() == stack[-1][0]:  # closing fence
                stack.pop()
                continue
            if kind in ("{solution}", "{code-cell}", "{code-block}") or not kind.startswith("{"):
                stack.append((fence, True))
            else:
                stack.append((fence, False))
            continue
        if not any(dropped for _, dropped in stack):
            kept.append(line)
    return "\n".join(kept)


def prose(markdown: str) -> str:
    """The prose of a Markdown cell: no math, code, roles, labels, link targets or solutions."""
    text = _strip_solutions_and_code(markdown)
    text = re.sub(r"\$\$.*?\$\$(\s*\([\w-]+\))?", " ", text, flags=re.S)  # display math
    text = re.sub(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", " ", text, flags=re.S)
    text = re.sub(r"\$[^$]+\$", " ", text)  # inline math
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)  # roles: {ref}`...`, {cite:p}`...`
    text = re.sub(r"`[^`]*`", " ", text)  # inline code
    text = re.sub(r"^\([\w-]+\)=\s*$", " ", text, flags=re.M)  # labels
    text = re.sub(r"^:[\w-]+:.*$", " ", text, flags=re.M)  # directive options
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    return text


def numbers(text: str) -> list[str]:
    """The numerals of a prose text, as written (with their thousands separators)."""
    return [m.group(1) + (m.group(2) or "") for m in _NUMBER.finditer(text)]


def printed_and_set(notebook: dict) -> str:
    """All text that the notebook's cells printed, and their sources, commas removed."""
    parts = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        parts.append("".join(cell["source"]))
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            for key in ("text/plain", "text/markdown", "text/html"):
                parts.append("".join(out.get("data", {}).get(key, "")))
    return "\n".join(parts).replace(",", "")


def _found(number: str, haystack: str) -> bool:
    plain = number.replace(",", "")
    pattern = rf"(?<![\d.]){re.escape(plain)}(?![\d])"
    if re.search(pattern, haystack):
        return True
    if "." not in plain:  # an integer written in code as 3_000 or 3e3
        value = int(plain)
        return bool(re.search(rf"(?<![\d.]){value:_}(?![\d])", haystack.replace(",", "")))
    return False


def prose_of_cell(cell: dict) -> str:
    """A Markdown cell's prose, or a figure cell's caption and alt text (prose too)."""
    if cell["cell_type"] == "markdown":
        return prose("".join(cell["source"]))
    meta = cell.get("metadata", {}).get("mystnb", {})
    caption = meta.get("figure", {}).get("caption", "")
    alt = meta.get("image", {}).get("alt", "")
    return prose(f"{caption}\n{alt}")


def _allowed(notebook: dict) -> list[dict]:
    return notebook.get("metadata", {}).get("prose_numbers_allowed", [])


def unprinted(path: pathlib.Path) -> list[tuple[int, str, str]]:
    """(cell index, number, context) for every prose number that no cell printed or set."""
    notebook = json.loads(path.read_text())
    haystack = printed_and_set(notebook)
    allowed = {str(entry["number"]) for entry in _allowed(notebook)}
    missing = []
    for index, cell in enumerate(notebook["cells"]):
        text = prose_of_cell(cell)
        for m in _NUMBER.finditer(text):
            number = m.group(1) + (m.group(2) or "")
            if number in allowed or _found(number, haystack):
                continue
            context = " ".join(text[max(0, m.start() - 50) : m.end() + 30].split())
            missing.append((index, number, context))
    return missing


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_number_in_the_prose_was_printed_or_set_by_a_cell(path):
    missing = unprinted(path)
    assert not missing, (
        f"{path.name}: numbers in the prose that no cell printed or set:\n"
        + "\n".join(
            f"  cell {index}: {number!r} in '...{context}...'" for index, number, context in missing
        )
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_allowed_numbers_have_reasons_and_are_still_in_the_prose(path):
    notebook = json.loads(path.read_text())
    written = {n for cell in notebook["cells"] for n in numbers(prose_of_cell(cell))}
    for entry in _allowed(notebook):
        assert entry.get("reason"), f"{path.name}: {entry['number']} allowed without a reason"
        assert str(entry["number"]) in written, (
            f"{path.name}: {entry['number']} is allowed but no longer in the prose; remove it"
        )


@pytest.mark.parametrize(
    "markdown, expected",
    [
        ("a loss of 0.40 against 1.2", ["0.40", "1.2"]),
        ("after 3,000 steps, $T = 100$ and `x[0]`", ["3,000"]),
        ("see {numref}`chapter %s <ch-lstm>` and (ch04-gates)=", []),
        ("a 2.7x gap, 38% of the time", ["2.7", "38"]),
        ("```{solution} ex\n:class: dropdown\n42 steps\n```\n7 left", ["7"]),
        ("```{exercise} Title\n:label: ex-1\nuse 12 units\n```", ["12"]),
        ("$$\nh_t = 5\n$$ (eq-1)\nand 6", ["6"]),
    ],
)
def test_prose_extraction(markdown, expected):
    assert numbers(prose(markdown)) == expected
