"""Print one edition of the built book to a single PDF with Debian's Chromium, offline.

    python book/_ext/print_pdf.py _build/html _build/html/pdf/recurrent-networks-executable.pdf

The edition's folder is served from 127.0.0.1 (no request leaves the machine). The pages of
``_toc.yml`` (all but the generated API reference) are fetched in the book's order and their
articles put one after the other into one document, after a title and a table of contents
that links to each chapter; MathJax typesets the whole, and Chromium prints it with the page
numbers in the footer. The print style hides the site's navigation, opens the dropdowns
(hidden code and solutions), wraps long code lines instead of cutting them, and starts each
page of the book on a new sheet.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pathlib
import re
import shutil
import sys
import threading

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PRINT_CSS = """
.bd-header, .bd-header-announcement, .bd-sidebar-primary, .bd-sidebar-secondary,
.bd-footer, .bd-footer-article, .header-article, .prev-next-area, .edition-switch,
.headerlink, #pst-back-to-top, .toggle-details__summary { display: none !important; }
.bd-main .bd-content .bd-article-container, .bd-page-width, .bd-article, .bd-container,
.bd-main, .bd-content { max-width: 100% !important; padding: 0 !important; margin: 0 !important; }
pre, pre code, .highlight pre { white-space: pre-wrap !important; overflow-wrap: anywhere;
  word-break: break-word; }
div.cell_output, div.output { overflow: visible !important; max-height: none !important; }
figure, img, mjx-container[display="true"] { break-inside: avoid; }
img { max-width: 100% !important; }
article.book-page { break-before: page; }
.book-title h1 { font-size: 2.4em; margin-top: 30%; }
.book-toc { break-before: page; }
.book-toc li { margin: 0.3em 0; }
"""
FOOTER = (
    '<div style="font-size: 8px; width: 100%; text-align: center; color: #555;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
ASSEMBLE = """async ({pages, title, contents}) => {
    const parser = new DOMParser();
    const parts = [];
    for (const path of pages) {
        const html = await (await fetch(path)).text();
        const doc = parser.parseFromString(html, 'text/html');
        const article = doc.querySelector('article.bd-article') || doc.querySelector('main');
        const h1 = article.querySelector('h1');
        const id = 'page-' + path.replace(/[^a-z0-9]+/gi, '-');
        parts.push({id, title: h1 ? h1.textContent.replace('#', '').trim() : path,
                    html: article.innerHTML});
    }
    const toc = parts.map(p => `<li><a href="#${p.id}">${p.title}</a></li>`).join('');
    const body = parts.map(p => `<article class="book-page" id="${p.id}">${p.html}</article>`);
    const target = document.querySelector('article.bd-article') || document.querySelector('main');
    target.innerHTML = `<div class="book-title"><h1>${title}</h1></div>` +
        `<nav class="book-toc"><h2>${contents}</h2><ol>${toc}</ol></nav>` + body.join('');
    document.querySelectorAll('details').forEach(d => d.open = true);
    if (window.MathJax && MathJax.typesetPromise) {
        await MathJax.startup.promise;
        MathJax.typesetClear && MathJax.typesetClear();
        await MathJax.typesetPromise();
    }
    await Promise.all(Array.from(document.images).map(img => img.complete ? null :
        new Promise(r => { img.onload = img.onerror = r; })));
    return parts.map(p => p.title);
}"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and pathlib.Path(candidate).exists():
            return candidate
    raise SystemExit("Chromium not found: install Debian's chromium or set $CHROMIUM")


def toc_pages() -> list[str]:
    """The pages of _toc.yml in the book's order, as paths relative to the site, without the
    generated API reference."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [
        c["file"] for part in toc["parts"] for c in part["chapters"] if "file" in c
    ]
    return [f + ".html" for f in files if not f.startswith("book/api")]


def print_pdf(site: pathlib.Path, pdf: pathlib.Path) -> list[str]:
    """Print the edition in ``site`` to ``pdf``; return the page titles in order."""
    from playwright.sync_api import sync_playwright

    html = (site / "book" / "intro.html").read_text(encoding="utf-8")
    chinese = re.search(r'<html[^>]*\blang="zh', html) is not None
    title = "可执行的循环神经网络" if chinese else "Recurrent Networks, Executable"
    contents = "目录" if chinese else "Contents"
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page()
        page.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(base) else route.abort()
            ),
        )
        page.goto(f"{base}/{toc_pages()[0]}", wait_until="load", timeout=120_000)
        pages = [f"{base}/{p}" for p in toc_pages()]
        titles = page.evaluate(ASSEMBLE, {"pages": pages, "title": title, "contents": contents})
        page.add_style_tag(content=PRINT_CSS)
        page.emulate_media(media="print")
        page.pdf(
            path=str(pdf),
            format="A4",
            print_background=True,
            display_header_footer=True,
            header_template="<span></span>",
            footer_template=FOOTER,
            margin={"top": "14mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
        )
        browser.close()
    server.shutdown()
    return titles


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    titles = print_pdf(pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2]))
    print(f"wrote {sys.argv[2]}: {json.dumps(titles, ensure_ascii=False)}")
