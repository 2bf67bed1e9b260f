"""The built site, as a reader uses it, in a real headless Chromium.

Run by `nox -s site`. The site is built from docs/ into docs/_build/html,
as `nox -s docs` builds it, and served on 127.0.0.1; screenshots go to
docs/_build/screenshots/.
"""

from __future__ import annotations

import functools
import gzip
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from playwright import sync_api as playwright

from markers import marked_lines
from support.browser import BrowserNotFound, find_browser
from support.examples import EXAMPLES, ROOT
from support.site_build import build_html

pytestmark = pytest.mark.browser

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAX_PAGE_BYTES = 150 * 1024
FONTS = (".woff", ".woff2", ".ttf", ".otf")
SCREENSHOTS = ROOT / "docs" / "_build" / "screenshots"


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


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Path]]:
    """Build the HTML site and serve it; yield its base URL and its folder.

    It is `nox -s docs`'s build, brought up to date: after that session,
    Sphinx finds nothing to rebuild.
    """
    html = Path(build_html().outdir)
    handler = functools.partial(GzipHandler, directory=html)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/", html
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright.Browser]:
    try:
        executable = find_browser()
    except BrowserNotFound as error:
        pytest.fail(str(error), pytrace=False)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: playwright.Browser) -> Iterator[playwright.Page]:
    context = browser.new_context(base_url=None)
    yield context.new_page()
    context.close()


def selected_tabs(page: playwright.Page) -> list[str]:
    return page.locator('.sphinx-tabs-tab[aria-selected="true"]').all_inner_texts()


def test_every_page_loads_clean_and_light(
    site: tuple[str, Path], page: playwright.Page
) -> None:
    base, folder = site
    errors: list[str] = []
    weights: dict[str, int] = {}
    page.on(
        "console",
        lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"),
    )
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.on(
        "response",
        lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"),
    )
    for html in sorted(folder.glob("*.html")):
        url = urljoin(base, html.name)
        loaded: list[int] = []
        listener = functools.partial(record_size, loaded)
        page.on("requestfinished", listener)
        page.goto(url, wait_until="load")  # every script, style and image
        page.remove_listener("requestfinished", listener)
        weights[html.name] = sum(loaded)

        broken_images = page.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => !i.naturalWidth).map(i => i.src)"
        )
        errors += [f"{html.name}: broken image {src}" for src in broken_images]
        for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
            errors += check_internal_link(base, folder, html.name, href)

    report = ", ".join(f"{name} {size / 1024:.0f} KB" for name, size in weights.items())
    print(f"\nPage weight, gzipped as hosts serve it, without fonts: {report}")
    assert not errors
    heavy = {name: size for name, size in weights.items() if size > MAX_PAGE_BYTES}
    assert not heavy, f"pages over {MAX_PAGE_BYTES // 1024} KB"


def record_size(sizes: list[int], request: playwright.Request) -> None:
    if not urlsplit(request.url).path.endswith(FONTS):
        sizes.append(request.sizes()["responseBodySize"])


def check_internal_link(base: str, folder: Path, page: str, href: str) -> list[str]:
    if not href.startswith(base):
        return []
    parts = urlsplit(href)
    target = folder / parts.path.removeprefix(urlsplit(base).path)
    if target.is_dir():
        target /= "index.html"
    if not target.is_file():
        return [f"{page}: broken link {href}"]
    if parts.fragment and target.suffix == ".html":
        ids = re.findall(r'\bid="([^"]+)"', target.read_text())
        if parts.fragment not in ids:
            return [f"{page}: no #{parts.fragment} in {target.name}"]
    return []


def test_choosing_redis_switches_every_tab_and_the_next_page(
    site: tuple[str, Path], page: playwright.Page
) -> None:
    base, _ = site
    page.goto(urljoin(base, "install.html"))
    assert set(selected_tabs(page)) == {"RabbitMQ"}

    page.get_by_role("tab", name="Redis").first.click()
    assert set(selected_tabs(page)) == {"Redis"}
    assert len(selected_tabs(page)) > 1

    page.locator("a.next-page").click()
    page.wait_for_url("**/configure.html")
    assert set(selected_tabs(page)) == {"Redis"}


def test_broker_parameter_in_a_link_picks_the_tabs(
    site: tuple[str, Path], page: playwright.Page
) -> None:
    base, _ = site
    page.goto(urljoin(base, "views.html?broker=redis"))
    assert set(selected_tabs(page)) == {"Redis"}
    page.goto(urljoin(base, "views.html?broker=rabbitmq"))
    assert set(selected_tabs(page)) == {"RabbitMQ"}
    assert page.locator(".unknown-broker").count() == 0

    page.goto(urljoin(base, "views.html?broker=kafka"))
    assert set(selected_tabs(page)) == {"RabbitMQ"}
    note = page.locator(".unknown-broker")
    assert note.is_visible()
    assert '"kafka"' in note.inner_text()
    assert "showing RabbitMQ" in note.inner_text()


def test_the_broker_choice_lasts_across_browser_tabs_and_visits(
    site: tuple[str, Path], browser: playwright.Browser
) -> None:
    base, _ = site
    context = browser.new_context()
    page = context.new_page()
    page.goto(urljoin(base, "install.html"))
    page.get_by_role("tab", name="Redis").first.click()
    assert broker_in_address(page) == "redis", "a copied link shows Redis"

    # A new browser tab, opened on another page without ?broker=.
    other = context.new_page()
    other.goto(urljoin(base, "workers.html"))
    assert set(selected_tabs(other)) == {"Redis"}
    assert broker_in_address(other) == "redis"
    remembered = context.storage_state()
    context.close()

    # A later visit, from a bookmark: the browser kept its storage.
    later = browser.new_context(storage_state=remembered)
    page = later.new_page()
    page.goto(urljoin(base, "results.html"))
    assert set(selected_tabs(page)) == {"Redis"}
    page.get_by_role("tab", name="RabbitMQ").first.click()
    assert broker_in_address(page) == "rabbitmq"
    page.goto(urljoin(base, "configure.html"))
    assert set(selected_tabs(page)) == {"RabbitMQ"}
    later.close()


def broker_in_address(page: playwright.Page) -> str | None:
    return parse_qs(urlsplit(page.url).query).get("broker", [None])[0]


def test_copy_button_copies_the_example_exactly(
    site: tuple[str, Path], browser: playwright.Browser
) -> None:
    base, _ = site
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(urljoin(base, "install.html?broker=redis"))

    def copy(block: playwright.Locator) -> str:
        block.hover()
        block.locator("button.copybtn").click()
        return page.evaluate("navigator.clipboard.readText()")

    panel = page.locator(".sphinx-tabs-panel:visible")
    requirements = panel.filter(has_text="requirements.txt").first
    shown = copy(requirements.locator("div.highlight").first)
    assert shown == (EXAMPLES / "quickstart/redis/requirements.txt").read_text().strip()

    # The same for both brokers, so shown once, outside the tabs.
    commands = page.locator(".both-brokers div.highlight-shell").first
    install = marked_lines(EXAMPLES / "quickstart/redis/commands.sh", "install")
    assert copy(commands) == "\n".join(install)

    page.goto(urljoin(base, "workers.html"))
    output = page.locator(".sphinx-tabs-panel:visible div.output")
    assert output.count() == 1
    assert output.locator("button.copybtn").count() == 0, "output is not for copying"
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_tabs_are_readable_in_light_and_dark_mode(
    site: tuple[str, Path], browser: playwright.Browser, scheme: str
) -> None:
    base, _ = site
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(urljoin(base, "views.html"))
    tabs = page.locator(".sphinx-tabs").first
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tabs.screenshot(path=SCREENSHOTS / f"tabs-{scheme}.png")

    # sphinx-tabs' own stylesheet is loaded (a clash of file names once hid it).
    padding = page.eval_on_selector(
        ".sphinx-tabs-tab", "tab => getComputedStyle(tab).paddingLeft"
    )
    assert padding == "24px"
    for tab in ('[aria-selected="true"]', '[aria-selected="false"]'):
        text, background = page.eval_on_selector(
            f".sphinx-tabs-tab{tab}",
            """tab => {
                const panel = tab.closest('.sphinx-tabs')
                    .querySelector('.sphinx-tabs-panel:not([hidden])');
                return [getComputedStyle(tab).color,
                        getComputedStyle(panel).backgroundColor];
            }""",
        )
        assert contrast(text, background) >= 4.5, (scheme, tab, text, background)
    context.close()


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two CSS rgb()/rgba() colours."""

    def luminance(color: str) -> float:
        r, g, b = (int(c) / 255 for c in re.findall(r"[\d.]+", color)[:3])
        linear = [
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in (r, g, b)
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


PHONE = {"width": 390, "height": 844}
# The pages a reader starts on: their commands must fit a phone's width.
FIRST_PAGES = ["install.html", "workers.html"]


def test_every_page_reads_well_on_a_phone(
    site: tuple[str, Path], browser: playwright.Browser
) -> None:
    """Code at 13 px or more, the first commands and config files (Procfile,
    requirements.txt) uncut on either broker, and no table wider than the
    screen (wide ones become cards, tables.js)."""
    base, folder = site
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    page = context.new_page()
    small, cut, wide = [], [], []
    for html in sorted(folder.glob("*.html")):
        page.goto(urljoin(base, html.name))
        sizes = page.eval_on_selector_all(
            ".highlight pre",
            "pres => pres.map(p => parseFloat(getComputedStyle(p).fontSize))",
        )
        small += [f"{html.name}: {size} px" for size in sizes if size < 13]
        wide += [
            f"{html.name}: {caption!r} is {width} px in {room} px"
            for caption, width, room in page.eval_on_selector_all(
                "article table.docutils",
                """tables => tables.map(t => [
                    t.querySelector('caption')?.innerText ?? '',
                    t.scrollWidth, t.parentElement.clientWidth])""",
            )
            if width > room
        ]
        if html.name == "benchmark.html":
            page.locator("article table.docutils").first.screenshot(
                path=SCREENSHOTS / "table-390.png"
            )
        for broker in ("rabbitmq", "redis") if html.name in FIRST_PAGES else ():
            page.goto(urljoin(base, f"{html.name}?broker={broker}"))
            cut += [
                f"{html.name} ({broker}): {text!r}"
                for text in page.eval_on_selector_all(
                    ".highlight-shell pre, .highlight-text pre",
                    """pres => pres.filter(p => p.offsetParent !== null)
                        .filter(p => p.scrollWidth > p.clientWidth)
                        .map(p => p.innerText.split("\\n")[0])""",
                )
            ]
            page.screenshot(path=SCREENSHOTS / f"{html.name}-390-{broker}.png")
    context.close()
    assert not small, "code under 13 px on a phone"
    assert not cut, "commands cut off on a 390-px phone"
    assert not wide, "tables wider than a 390-px phone"


# What readers type into the search box: status codes and error names.
SEARCHES = {
    "503": "glossary.html",
    "413": "glossary.html",
    "ModuleNotFoundError": "workers.html",
    "Windows": "install.html",
}


@pytest.mark.parametrize("query", list(SEARCHES))
def test_search_finds_status_codes_and_error_names(
    site: tuple[str, Path], page: playwright.Page, query: str
) -> None:
    base, _ = site
    page.goto(urljoin(base, f"search.html?q={query}"))
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=10_000)
    pages = [
        urlsplit(href).path.rsplit("/", 1)[-1]
        for href in page.eval_on_selector_all(
            "#search-results ul.search li a", "as => as.map(a => a.href)"
        )
    ]
    assert SEARCHES[query] in pages, pages


def test_the_index_shows_where_to_start_on_the_first_phone_screen(
    site: tuple[str, Path], browser: playwright.Browser
) -> None:
    base, _ = site
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    page = context.new_page()
    page.goto(base)
    start = page.locator("article a[href='install.html']").first
    box = start.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
    page.screenshot(path=SCREENSHOTS / "index-390.png")
    steps = page.locator("article .toctree-wrapper").first.locator("li > a")
    assert steps.all_inner_texts()[:5] == [
        "1. Install",
        "2. Configure",
        "3. Actors",
        "4. Views",
        "5. Workers",
    ]
    context.close()


def test_every_page_has_a_description_for_search_engines(
    site: tuple[str, Path],
) -> None:
    _, folder = site
    pages = {path.name for path in folder.glob("*.html")} - {
        "search.html",
        "genindex.html",
        "404.html",
    }
    missing = [
        name
        for name in sorted(pages)
        if not re.search(
            r'<meta name="description" content="[^"]{40,}"', (folder / name).read_text()
        )
    ]
    assert not missing, "pages without a meta description"


# Colour contrast depends on the stylesheets, not the page: it is checked, in
# both colour schemes, on pages with each kind of content (tabs and code,
# tables, the plot), and every other rule on every page. Contrast on every
# page would take 20 s more, on the 2,000 coloured spans of the code.
CONTRAST_PAGES = [
    "index.html",
    "install.html",
    "performance.html",
    "troubleshooting.html",
]
SEVERE = ("critical", "serious")


def axe_violations(page: playwright.Page, options: dict) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = []
    for violation in Axe().run(page, options=options).response["violations"]:
        if violation["impact"] in SEVERE:
            targets = [node["target"] for node in violation["nodes"][:3]]
            found.append(f"{page.url}: {violation['id']} at {targets}")
    return found


@pytest.mark.audit
def test_no_page_has_a_critical_or_serious_accessibility_violation(
    site: tuple[str, Path], page: playwright.Page
) -> None:
    base, folder = site
    without_contrast = {
        "resultTypes": ["violations"],
        "rules": {"color-contrast": {"enabled": False}},
    }
    found = []
    for html in sorted(folder.glob("*.html")):
        page.goto(urljoin(base, html.name))
        found += axe_violations(page, without_contrast)
    assert not found, "axe-core"


@pytest.mark.audit
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_passes_axe_in_light_and_dark_mode(
    site: tuple[str, Path], browser: playwright.Browser, scheme: str
) -> None:
    base, _ = site
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    found = []
    for name in CONTRAST_PAGES:
        page.goto(urljoin(base, name))
        found += axe_violations(page, {"runOnly": ["color-contrast"]})
    context.close()
    assert not found, f"axe-core, {scheme} mode"


def test_the_diagram_and_the_plot_are_readable_on_a_phone(
    site: tuple[str, Path], browser: playwright.Browser
) -> None:
    base, folder = site
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    page = context.new_page()
    small = []
    for name in ("index.html", "benchmark.html"):
        page.goto(urljoin(base, name))
        for image in page.locator("article img[src$='.svg']").all():
            svg = (folder / name).parent / image.get_attribute("src")
            text = svg.read_text()
            view_width = float(re.search(r'viewBox="[\d.]+ [\d.]+ ([\d.]+)', text)[1])
            sizes = [float(s) for s in re.findall(r'font-size[=:]\s*"?([\d.]+)', text)]
            scale = image.bounding_box()["width"] / view_width
            if min(sizes) * scale < 12:
                small.append(f"{svg.name}: {min(sizes) * scale:.1f} px")
    context.close()
    assert not small, "text under 12 px on a 390-px phone"
