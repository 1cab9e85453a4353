"""Serve the built book (both editions) on 127.0.0.1 and drive Debian's Chromium.

No browser is ever downloaded: Playwright launches /usr/bin/chromium (or $CHROMIUM). When it
is missing the tests skip with a message saying how to install it, except under CI=true,
where a missing browser is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import pathlib
import shutil
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / "_build"
SITE = BUILD / "html"  # the English edition
SITE_ZH = BUILD / "html-zh"  # the Chinese edition, a sibling folder
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and pathlib.Path(candidate).exists():
            return candidate
    return None


def _missing(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser check must run)")
    pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass

    def copyfile(self, source, outputfile):
        try:
            super().copyfile(source, outputfile)
        except (BrokenPipeError, ConnectionResetError):  # the browser moved on: not an error
            pass


@pytest.fixture(scope="session")
def build_url():
    """The _build folder served over HTTP, so that each edition's link to the other works."""
    for site in (SITE, SITE_ZH):
        if not (site / "index.html").exists():
            _missing(f"the book is not built ({site.name}): run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(BUILD))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def site_url(build_url):
    return f"{build_url}/{SITE.name}"


@pytest.fixture(scope="session")
def site_zh_url(build_url):
    return f"{build_url}/{SITE_ZH.name}"


@pytest.fixture(scope="session")
def browser():
    path = _chromium_path()
    if path is None:
        _missing(
            "Chromium not found: install Debian's package (`sudo apt-get install chromium`) "
            "or set $CHROMIUM to a Chromium binary"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts():
    out = ARTIFACTS / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out
