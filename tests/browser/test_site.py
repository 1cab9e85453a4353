"""Every page of the built book loads in a real browser, offline, with math and images."""

from __future__ import annotations

import pathlib
from urllib.parse import urlparse

import pytest

from .conftest import SITE

# Console messages that come from the theme or its extensions and do not affect the reader.
# Each entry: a substring of the message, and why it is harmless.
CONSOLE_ALLOW = {}


def _pages() -> list[str]:
    if not SITE.exists():
        return []
    return sorted(
        str(p.relative_to(SITE))
        for p in SITE.rglob("*.html")
        if "_static" not in p.parts and "_sources" not in p.parts
    )


PAGES = _pages()
CHAPTERS = [p for p in PAGES if pathlib.PurePath(p).name.startswith("ch")]


def test_the_book_has_pages():
    assert "book/intro.html" in PAGES and "book/notation.html" in PAGES, PAGES
    assert CHAPTERS, "no chapter pages found in the built book"


def _load(browser, url: str):
    """Open ``url``; return the page and the problems seen while loading it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []

    def on_request(request):
        parsed = urlparse(request.url)
        if parsed.scheme in ("data", "blob", "about"):
            return
        if parsed.hostname != "127.0.0.1":
            problems.append(f"request leaves 127.0.0.1: {request.url}")

    def on_response(response):
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.url}")

    def on_console(msg):
        if msg.type == "error" and not any(s in msg.text for s in CONSOLE_ALLOW):
            where = (msg.location or {}).get("url", "")
            problems.append(f"console error: {msg.text} (at {where or 'unknown location'})")

    page.on("request", on_request)
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} {r.failure}"))
    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.goto(url, wait_until="load")
    if url.endswith("/index.html"):  # the site root only redirects to the first page
        page.wait_for_url("**/book/intro.html")
        page.wait_for_load_state("load")
    return context, page, problems


MATH_STATE = """async () => {
    const hasMath = document.querySelector('.math') !== null;
    if (!hasMath) return {hasMath, rendered: 0, errors: 0, raw: false};
    for (let k = 0; k < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); k++)
        await new Promise(r => setTimeout(r, 50));
    if (!(window.MathJax && MathJax.startup)) return {hasMath, rendered: -1, errors: 0, raw: true};
    await MathJax.startup.promise;
    const text = document.querySelector('main').innerText;
    return {
        hasMath,
        rendered: document.querySelectorAll('mjx-container').length,
        errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
        raw: text.includes('\\\\(') || text.includes('\\\\['),
    };
}"""

IMAGES = """() => Array.from(document.images).map(img => ({
    src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0}))"""


@pytest.mark.parametrize("page_path", PAGES)
def test_page_loads_offline_with_math_and_images(browser, site_url, artifacts, page_path):
    context, page, problems = _load(browser, f"{site_url}/{page_path}")
    try:
        math = page.evaluate(MATH_STATE)
        if math["hasMath"]:
            assert math["rendered"] > 0, f"{page_path}: MathJax did not render any math"
            assert math["errors"] == 0, f"{page_path}: {math['errors']} MathJax errors"
            assert not math["raw"], f"{page_path}: raw TeX delimiters left in the text"
        for _ in range(3):  # scroll so that lazily loaded images load
            page.mouse.wheel(0, 100000)
            page.wait_for_timeout(100)
        page.wait_for_load_state("networkidle")
        broken = [img["src"] for img in page.evaluate(IMAGES) if not img["ok"]]
        assert not broken, f"{page_path}: images not loaded: {broken}"
        if page_path in CHAPTERS or page_path.endswith(("intro.html", "notation.html")):
            page.evaluate("window.scrollTo(0, 0)")
            name = pathlib.PurePath(page_path).stem
            page.screenshot(path=str(artifacts / f"{name}.png"))
        assert not problems, f"{page_path}:\n" + "\n".join(problems)
    finally:
        context.close()
