"""The built site, served as hosts serve it, and a headless Chromium to read it.

Shared by the browser tests (tests/test_site*.py, `nox -s site` and
`nox -s audit`). Screenshots go to docs/_build/screenshots/.
"""

from __future__ import annotations

import functools
import gzip
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright import sync_api as playwright

from support.browser import BrowserNotFound, find_browser
from support.examples import ROOT

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "docs" / "_build" / "screenshots"
# Screenshots of the first pages a reader opens and of the longest, at 1280
# and at 390 px, for a reviewer's eyes.
SCREENSHOT_PAGES = ("index.html", "install.html", "workers.html", "factory.html")
PHONE = {"width": 390, "height": 844}


class GzipHandler(SimpleHTTPRequestHandler):
    """Serve the site as hosts do (Read the Docs, GitHub Pages): text gzipped.

    So the page weights below are bytes on the wire, as a reader's browser
    downloads them.
    """

    COMPRESSED = (".html", ".css", ".js", ".svg", ".json", ".txt", ".xml")

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path /= "index.html"
        wants_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (wants_gzip and path.suffix in self.COMPRESSED and path.is_file()):
            super().do_GET()
            return
        body = gzip.compress(path.read_bytes())
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(name="site", scope="module")
def fixture_site() -> Iterator[tuple[str, Path]]:
    """Build the HTML site and serve it; yield its base URL and its folder.

    It is `nox -s docs`'s build, brought up to date: after that session,
    Sphinx finds nothing to rebuild.
    """
    # Imported here: a module that needs only the browser (test_progress.py,
    # in the smoke run's every test process) need not import Sphinx.
    from support.site_build import build_html

    html = Path(build_html().outdir)
    handler = functools.partial(GzipHandler, directory=html)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/", html
    server.shutdown()


@pytest.fixture(name="browser", scope="module")
def fixture_browser() -> Iterator[playwright.Browser]:
    try:
        executable = find_browser()
    except BrowserNotFound as error:
        pytest.fail(str(error), pytrace=False)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(name="page")
def fixture_page(browser: playwright.Browser) -> Iterator[playwright.Page]:
    context = browser.new_context(base_url=None)
    yield context.new_page()
    context.close()


@pytest.fixture(name="phone")
def fixture_phone(browser: playwright.Browser) -> Iterator[playwright.Page]:
    """A page in a 390-pixel-wide phone screen, at one pixel per CSS pixel."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    yield context.new_page()
    context.close()


@pytest.fixture(name="scheme_page", params=["light", "dark"])
def fixture_scheme_page(
    request: pytest.FixtureRequest, browser: playwright.Browser
) -> Iterator[tuple[str, playwright.Page]]:
    """A page in the reader's light or dark colour scheme, and its name."""
    context = browser.new_context(color_scheme=request.param)
    yield request.param, context.new_page()
    context.close()


def selected_tabs(page: playwright.Page) -> list[str]:
    return page.locator('.sphinx-tabs-tab[aria-selected="true"]').all_inner_texts()
