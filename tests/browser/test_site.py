"""Every page of both editions loads in a real browser, offline, with math and images.

Every HTML page of each edition is loaded (chapters, front and back matter, the glossary, the
references, the API reference, the search page and the index; of the Chinese edition's API
reference, which is the English one, the index and two module pages); a screenshot of the first
screen of each chapter and of the main back-matter pages is saved in tests/artifacts/screenshots
(the Chinese edition's with the prefix zh-) for a person to look at. The English search finds
the glossary's entry for "forget gate", the Chinese search (jieba) finds the LSTM chapter for
遗忘门, and every page links to the same page in the other edition.
"""

from __future__ import annotations

import pathlib
from urllib.parse import urlparse

import pytest

from .conftest import SITE, SITE_ZH

# Console messages that come from the theme or its extensions and do not affect the reader.
# Each entry: a substring of the message, and why it is harmless.
CONSOLE_ALLOW = {}


def _pages(site=SITE) -> list[str]:
    if not site.exists():
        return []
    return sorted(
        str(p.relative_to(site))
        for p in site.rglob("*.html")
        if "_static" not in p.parts and "_sources" not in p.parts
    )


PAGES = _pages()
PAGES_ZH = _pages(SITE_ZH)
# The API reference is English in both editions, generated from the same docstrings: in the
# Chinese edition its index and one module page are loaded, not every module page again.
LOADED_ZH = [
    p for p in PAGES_ZH if not p.startswith("book/api/companion.") or p in {
        "book/api/companion.ref.rnn.html", "book/api/companion.seq2seq.html"}
]  # fmt: skip
CHAPTERS = [p for p in PAGES if pathlib.PurePath(p).name.startswith("ch")]
# pages besides the chapters whose first screen is saved as a screenshot
SCREENSHOT_PAGES = {
    "book/intro.html",
    "book/notation.html",
    "book/glossary.html",
    "book/bibliography.html",
    "book/api/index.html",
    "book/api/companion.ref.rnn.html",
}
REQUIRED = SCREENSHOT_PAGES | {"search.html", "genindex.html"}


def test_the_book_has_pages():
    missing = sorted(REQUIRED - set(PAGES))
    assert not missing, f"pages missing from the built book: {missing}"
    assert CHAPTERS, "no chapter pages found in the built book"
    api = [p for p in PAGES if p.startswith("book/api/companion")]
    assert len(api) >= 10, f"the API reference has only {len(api)} module pages: {api}"


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
    if urlparse(url).path.endswith(("/html/index.html", "/html-zh/index.html")):
        # an edition's root only redirects to the first page
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
    src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0,
    alt: (img.getAttribute('alt') || '').trim()}))"""


def test_both_editions_have_the_same_pages():
    assert PAGES_ZH == PAGES, sorted(set(PAGES) ^ set(PAGES_ZH))


@pytest.mark.parametrize(
    "edition,page_path", [("en", p) for p in PAGES] + [("zh", p) for p in LOADED_ZH]
)
def test_page_loads_offline_with_math_and_images(
    browser, site_url, site_zh_url, artifacts, edition, page_path
):
    base = site_url if edition == "en" else site_zh_url
    context, page, problems = _load(browser, f"{base}/{page_path}")
    try:
        math = page.evaluate(MATH_STATE)
        if math["hasMath"]:
            assert math["rendered"] > 0, f"{page_path}: MathJax did not render any math"
            assert math["errors"] == 0, f"{page_path}: {math['errors']} MathJax errors"
            assert not math["raw"], f"{page_path}: raw TeX delimiters left in the text"
        page.mouse.wheel(0, 100000)  # scroll so that lazily loaded images start loading
        page.wait_for_function(
            "() => Array.from(document.images).every(img => img.complete)", timeout=20_000
        )
        images = page.evaluate(IMAGES)
        broken = [img["src"] for img in images if not img["ok"]]
        assert not broken, f"{page_path}: images not loaded: {broken}"
        no_alt = [img["src"] for img in images if not img["alt"]]
        assert not no_alt, f"{page_path}: images without alt text: {no_alt}"
        if page_path in CHAPTERS or page_path in SCREENSHOT_PAGES:
            page.evaluate("window.scrollTo(0, 0)")
            name = ("" if edition == "en" else "zh-") + pathlib.PurePath(page_path).stem
            page.screenshot(path=str(artifacts / f"{name}.png"))
        assert not problems, f"{edition} {page_path}:\n" + "\n".join(problems)
    finally:
        context.close()


SEARCH_RESULTS = """async () => {
    for (let k = 0; k < 200; k++) {
        const items = document.querySelectorAll('#search-results ul.search li');
        const status = document.querySelector('#search-results .search-summary, #search-results p');
        if (items.length || (status && /did not match|no results/i.test(status.textContent)))
            return Array.from(items).map(li => ({
                href: (li.querySelector('a') || {}).href || '', text: li.innerText}));
        await new Promise(r => setTimeout(r, 50));
    }
    return null;
}"""


def test_search_finds_the_glossary_entry_for_forget_gate(browser, site_url):
    context, page, problems = _load(browser, f"{site_url}/search.html?q=forget+gate")
    try:
        results = page.evaluate(SEARCH_RESULTS)
        assert results is not None, "the search page never showed results or a no-match message"
        assert results, "searching for 'forget gate' found nothing"
        hits = [r["href"] for r in results if "book/glossary.html" in r["href"]]
        assert hits, f"no result on the glossary page: {[r['href'] for r in results]}"
        assert not problems, "search.html:\n" + "\n".join(problems)
    finally:
        context.close()


def test_chinese_search_finds_the_lstm_chapter_for_forget_gate(browser, site_zh_url):
    context, page, problems = _load(browser, f"{site_zh_url}/search.html?q=遗忘门")
    try:
        results = page.evaluate(SEARCH_RESULTS)
        assert results, "searching the Chinese edition for 遗忘门 found nothing"
        hits = [r["href"] for r in results if "book/ch04_lstm.html" in r["href"]]
        assert hits, f"no result in the LSTM chapter: {[r['href'] for r in results]}"
        assert not problems, "search.html:\n" + "\n".join(problems)
    finally:
        context.close()


@pytest.mark.parametrize("page_path", ["book/ch04_lstm.html", "book/glossary.html"])
def test_every_page_links_to_the_same_page_in_the_other_edition(
    browser, site_url, site_zh_url, page_path
):
    context, page, problems = _load(browser, f"{site_url}/{page_path}")
    try:
        assert page.evaluate("document.documentElement.lang").startswith("en")
        page.click(".edition-switch a")
        page.wait_for_load_state("load")
        assert page.url == f"{site_zh_url}/{page_path}", page.url
        assert page.evaluate("document.documentElement.lang").lower().startswith("zh")
        page.click(".edition-switch a")
        page.wait_for_load_state("load")
        assert page.url == f"{site_url}/{page_path}", page.url
        assert not problems, "\n".join(problems)
    finally:
        context.close()


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_each_edition_offers_its_pdf(browser, site_url, site_zh_url, edition):
    base = site_url if edition == "en" else site_zh_url
    context, page, problems = _load(browser, f"{base}/book/intro.html")
    try:
        links = page.evaluate(
            "() => Array.from(document.querySelectorAll('a[href$=\\'.pdf\\']')).map(a => a.href)"
        )
        assert links, "the preface links to no PDF"
        for link in links:
            response = page.request.get(link)
            assert response.status == 200 and response.body()[:4] == b"%PDF", link
    finally:
        context.close()
