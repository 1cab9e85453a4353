"""The PDF of each edition (``make pdf``) holds the whole book.

For each edition: the PDF that its preface links to exists, has a plausible number of A4
pages, and its text (``pdftotext``, from Debian's poppler-utils) contains the title of every
page of the book and the caption of every figure of every chapter, as the HTML shows them.
Whitespace and hyphens are ignored in the comparison (the PDF breaks lines, the HTML does
not), and so is the source of the math, which MathJax typesets.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import unicodedata

import pytest

from .conftest import SITE, SITE_ZH, _missing

PDF = "pdf/recurrent-networks-executable.pdf"
EDITIONS = {"en": SITE, "zh": SITE_ZH}


MATH = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]", re.S)


def _normal(text: str) -> str:
    """Without whitespace and hyphens (pdftotext joins a word hyphenated at a line's end)."""
    return re.sub(r"[\s\-]+", "", unicodedata.normalize("NFKC", text))


def _pieces(fragment: str) -> list[str]:
    """The visible text of an HTML fragment, without whitespace, cut where MathJax typesets
    math (its source is not the PDF's text); pieces shorter than 6 characters are dropped."""
    text = html.unescape(re.sub(r"<[^>]+>", "", fragment)).replace("#", "")
    return [p for p in (_normal(t) for t in MATH.split(text)) if len(p) >= 6]


@pytest.fixture(scope="module", params=sorted(EDITIONS))
def edition(request):
    site = EDITIONS[request.param]
    pdf = site / PDF
    if not pdf.exists():
        _missing(f"{pdf} is missing: run `make pdf` after `make book`")
    if shutil.which("pdftotext") is None:
        _missing("pdftotext not found: install Debian's poppler-utils")
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))
    return request.param, site, _normal(text), pages


def test_the_pdf_has_a_plausible_number_of_pages(edition):
    name, _, _, pages = edition
    assert 200 <= pages <= 800, f"{name}: {pages} pages"


def test_every_page_title_and_figure_caption_is_in_the_pdf(edition):
    name, site, text, _ = edition
    pages = sorted((site / "book").glob("*.html"))
    pages = [p for p in pages if p.stem not in ("index",)]
    assert len(pages) >= 15
    missing = []
    for page in pages:
        source = page.read_text(encoding="utf-8")
        h1 = re.search(r"<h1[^>]*>(.*?)</h1>", source, re.S)
        wanted = [("title", p) for p in _pieces(h1.group(1))] if h1 else []
        for caption in re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", source, re.S):
            wanted += [("caption", p) for p in _pieces(caption)]
        missing += [f"{page.name} {kind}: {t[:60]}" for kind, t in wanted if t not in text]
    assert not missing, f"{name}: not in the PDF:\n" + "\n".join(missing)
