"""The Chinese edition cannot drift from the English one.

Every page of the book except the generated API reference has a message catalogue under
``locales/zh_CN/LC_MESSAGES/``; these tests fail, naming the page and the message, when

- a message of the current English text is missing from its page's catalogue (the English
  changed and ``make catalogues`` was not run);
- a message has no translation, or a fuzzy one (``make catalogues`` marks a message whose
  English changed as fuzzy);
- a translation lost the markup that the build needs: the inline math, the inline code, the
  targets of the cross-references, citations and glossary links, the numbers, the URLs.

A change to the English prose therefore comes with its translation, in the same commit
(README, "Adding a chapter").
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest
import yaml
from babel.messages.pofile import read_po

ROOT = pathlib.Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"


def _pages() -> list[str]:
    """The documents of _toc.yml, without the generated API reference."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            if "file" in chapter and not chapter["file"].startswith("book/api"):
                pages.append(chapter["file"])
    return pages


PAGES = _pages()
MATH = re.compile(r"\$\$.*?\$\$|\$[^$]+\$", re.S)
ROLE_START = re.compile(r"\{([\w:-]+)\}`")
NUMBER = re.compile(r"(?<![\w.])\d(?:[\d,]*\d)?(?:\.\d+)?")
URL = re.compile(r"https?://[^\s)>]+")


def _spans(text: str) -> tuple[list[tuple[str, str]], list[str], str]:
    """Read ``text`` as MyST does, left to right: the roles ``{name}`body``` as (name, body),
    the inline code spans, and the prose that is left (math removed first)."""
    text = MATH.sub(" ", text)
    roles, code, prose, i = [], [], [], 0
    while i < len(text):
        m = ROLE_START.match(text, i)
        if m:
            end = text.find("`", m.end())
            end = len(text) if end < 0 else end
            roles.append((m.group(1), text[m.end() : end]))
            i = end + 1
        elif text[i] == "`":
            ticks = len(text[i:]) - len(text[i:].lstrip("`"))
            end = text.find("`" * ticks, i + ticks)
            end = len(text) if end < 0 else end
            code.append(text[i : end + ticks])
            i = end + ticks
        else:
            prose.append(text[i])
            i += 1
    return roles, sorted(code), "".join(prose)


def _catalogue(page: str):
    with open(LOCALE / f"{page}.po", "rb") as f:
        return read_po(f)


def _targets(text: str) -> list[tuple[str, str]]:
    """(role, target) of every role: the part in <...>, else the whole text; glossary terms
    compared without case."""
    out = []
    for kind, body in _spans(text)[0]:
        m = re.fullmatch(r"(?s).*<([^<>]+)>\s*", body)
        target = (m.group(1) if m and kind in ("term", "ref", "numref", "doc") else body).strip()
        out.append((kind, target.lower() if kind == "term" else target))
    return sorted(out)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_a_catalogue(page):
    assert (LOCALE / f"{page}.po").exists(), f"{page}: no catalogue; run make catalogues"


@pytest.mark.parametrize("page", PAGES)
def test_every_message_is_translated(page):
    missing = [
        f"  {'fuzzy' if m.fuzzy else 'untranslated'}: {str(m.id)[:100]!r}"
        for m in _catalogue(page)
        if m.id and (not m.string or m.fuzzy)
    ]
    assert not missing, f"{page}: {len(missing)} messages need a translation:\n" + "\n".join(
        missing
    )


@pytest.mark.parametrize("page", PAGES)
def test_translations_keep_the_markup(page):
    problems = []
    for m in _catalogue(page):
        if not (m.id and m.string):
            continue
        src, dst = str(m.id), str(m.string)
        checks = {
            "math": (sorted(MATH.findall(src)), sorted(MATH.findall(dst))),
            "inline code": (_spans(src)[1], _spans(dst)[1]),
            "link targets": (_targets(src), _targets(dst)),
            "numbers": (
                sorted(NUMBER.findall(_spans(src)[2])),
                sorted(NUMBER.findall(_spans(dst)[2])),
            ),
            "URLs": (sorted(URL.findall(src)), sorted(URL.findall(dst))),
        }
        for what, (a, b) in checks.items():
            if a != b:
                problems.append(f"  {what} differ in {src[:80]!r}: {a} against {b}")
    assert not problems, f"{page}: translations that lost markup:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """The message templates of the current English text (Sphinx's gettext builder)."""
    out = tmp_path_factory.mktemp("gettext")
    subprocess.run(["make", "-s", "conf.py"], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "gettext", "-q", "-D", "gettext_compact=0",
         "-d", str(out / ".doctrees"), ".", str(out)],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return out


@pytest.mark.parametrize("page", PAGES)
def test_catalogues_hold_the_current_english(templates, page):
    with open(templates / f"{page}.pot", "rb") as f:
        wanted = {str(m.id) for m in read_po(f) if m.id}
    have = {str(m.id) for m in _catalogue(page) if m.id}
    new = sorted(wanted - have)
    assert not new, (
        f"{page}: {len(new)} messages of the English text are not in the catalogue; run "
        "make catalogues and translate them:\n" + "\n".join(f"  {n[:100]!r}" for n in new)
    )
