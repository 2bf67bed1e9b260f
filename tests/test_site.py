"""The built site, as a reader uses it, in a real headless Chromium.

Run by `nox -s site`: the broker tabs follow the reader's choice, the copy
button copies the example, and the tabs read in light and dark mode. That
every page loads clean and light is checked by `nox -s audit`, with the
other checks of every page: loading all of them takes longer than the rest
of this module. The site is built from docs/ into docs/_build/html, as
`nox -s docs` builds it, and served on 127.0.0.1.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from playwright import sync_api as playwright

from markers import marked_lines
from support.examples import EXAMPLES
from support.site_server import (
    SCREENSHOTS,
    fixture_browser,  # noqa: F401  (the fixture "browser")
    fixture_page,  # noqa: F401  (the fixture "page")
    fixture_scheme_page,  # noqa: F401  (the fixture "scheme_page")
    fixture_site,  # noqa: F401  (the fixture "site")
    selected_tabs,
)

pytestmark = pytest.mark.browser

MAX_PAGE_BYTES = 150 * 1024
FONTS = (".woff", ".woff2", ".ttf", ".otf")


@pytest.mark.audit
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
    page.goto(urljoin(base, "configure.html?broker=redis"))
    assert set(selected_tabs(page)) == {"Redis"}
    page.goto(urljoin(base, "configure.html?broker=rabbitmq"))
    assert set(selected_tabs(page)) == {"RabbitMQ"}
    assert page.locator(".unknown-broker").count() == 0

    page.goto(urljoin(base, "configure.html?broker=kafka"))
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


def test_tabs_are_readable_in_light_and_dark_mode(
    site: tuple[str, Path], scheme_page: tuple[str, playwright.Page]
) -> None:
    base, _ = site
    scheme, page = scheme_page
    page.goto(urljoin(base, "configure.html"))
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
    # The chosen tab has a bar under it: its text alone is easy to miss.
    bars = page.eval_on_selector_all(
        ".sphinx-tabs-tab",
        "tabs => tabs.slice(0, 2).map(tab => getComputedStyle(tab).boxShadow)",
    )
    assert "inset" in bars[0] and bars[1] == "none", bars


def test_the_sidebar_shows_the_page_being_read(
    site: tuple[str, Path], page: playwright.Page
) -> None:
    base, _ = site
    # A late page of the list: below the first screen of the sidebar.
    page.goto(urljoin(base, "troubleshooting_tasks.html"))
    current = page.locator(".sidebar-scroll .current-page > a").first
    visible = current.evaluate(
        """a => {
            const box = a.getBoundingClientRect();
            const room = a.closest('.sidebar-scroll').getBoundingClientRect();
            return box.top >= room.top && box.bottom <= room.bottom;
        }"""
    )
    assert visible, "the current page is scrolled out of the sidebar"


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
