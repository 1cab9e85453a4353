"""No broken link inside the built book, and the buttons that lead out of it point right.

Every ``href`` and ``src`` in ``_build/html`` that names a local file must name one that
exists, and a ``#fragment`` must be an ``id`` (or ``name``) in that file. These checks read
the HTML files directly; they need the built book but no browser.
"""

from __future__ import annotations

import functools
import html.parser
import pathlib
from urllib.parse import unquote, urlparse

import pytest
import yaml

from .conftest import ROOT, SITE, SITE_ZH, _missing

LINK_ATTRS = {"href", "src"}


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name") and tag != "meta":
                self.ids.add(value)
            elif name in LINK_ATTRS:
                self.links.append((tag, value))


@functools.cache
def _parse(path: pathlib.Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _html_files() -> list[pathlib.Path]:
    if not (SITE / "index.html").exists():
        return []
    skip = {"_sources", "_static"}  # copies of sources; the theme's Jinja templates
    return sorted(p for p in SITE.rglob("*.html") if not skip & set(p.relative_to(SITE).parts))


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        _missing("the book is not built: run `make book` first")
    return SITE


def _target(page: pathlib.Path, url: str) -> tuple[pathlib.Path | None, str]:
    """The local file a link names (None for external links) and its fragment."""
    parsed = urlparse(url)
    if parsed.scheme or parsed.netloc or url.startswith(("//", "javascript:")):
        return None, ""
    if not parsed.path:  # "#fragment": this page
        return page, unquote(parsed.fragment)
    path = (page.parent / unquote(parsed.path)).resolve()
    if path.is_dir():
        path = path / "index.html"
    return path, unquote(parsed.fragment)


def test_every_local_link_and_anchor_resolves(site):
    broken = []
    for page in _html_files():
        for tag, url in _parse(page).links:
            path, fragment = _target(page, url)
            if path is None:
                continue
            where = f"{page.relative_to(site)}: <{tag}> {url}"
            if not (path.is_relative_to(site) or path.is_relative_to(SITE_ZH)):
                broken.append(f"{where} (outside both editions)")
            elif not path.exists():
                broken.append(f"{where} (no such file)")
            elif fragment and path.suffix == ".html" and fragment not in _parse(path).ids:
                broken.append(f"{where} (no id {fragment!r} in {path.name})")
    assert not broken, f"{len(broken)} broken links:\n" + "\n".join(broken[:50])


def _repository() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]


CHAPTERS = [p for p in _html_files() if p.name.startswith("ch") and p.parent.name == "book"]


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_launch_and_download_buttons(site, page):
    """Binder and Colab open this chapter from the repository of _config.yml; the .ipynb is here."""
    repo = _repository()
    owner_name = urlparse(repo["url"]).path.strip("/")
    notebook = f"{page.relative_to(site).with_suffix('.ipynb')}"
    links = [url for _, url in _parse(page).links]
    colab = (
        f"https://colab.research.google.com/github/{owner_name}/blob/{repo['branch']}/{notebook}"
    )
    binder = f"https://mybinder.org/v2/gh/{owner_name}/{repo['branch']}?urlpath="
    assert colab in links, f"{page.name}: no Colab link {colab}"
    assert any(u.startswith(binder) and notebook in unquote(u) for u in links), (
        f"{page.name}: no Binder link for {notebook}"
    )
    downloads = [u for u in links if u.endswith(".ipynb") and not urlparse(u).scheme]
    assert downloads, f"{page.name}: no download link to the .ipynb"
    for url in downloads:
        path, _ = _target(page, url)
        assert path is not None and path.exists(), f"{page.name}: download {url} is missing"
