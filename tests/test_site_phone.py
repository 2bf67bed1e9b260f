"""The built site on a 390-pixel phone: code, commands, tables and figures.

Run by `nox -s audit` (CI runs it after `nox`). The pages are the reader's first screen and what
they copy: code at 13 px or more, the first commands uncut, tables as
cards, figures with legible text, and the first step on the first screen.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright import sync_api as playwright

from support.site_server import (
    PHONE,
    SCREENSHOT_PAGES,
    SCREENSHOTS,
    fixture_browser,  # noqa: F401  (the fixture "browser")
    fixture_phone,  # noqa: F401  (the fixture "phone")
    fixture_site,  # noqa: F401  (the fixture "site")
)

pytestmark = [pytest.mark.browser, pytest.mark.audit]

# The pages a reader starts on: their commands must fit a phone's width.
FIRST_PAGES = ["install.html", "workers.html"]


def test_every_page_reads_well_on_a_phone(
    site: tuple[str, Path], phone: playwright.Page
) -> None:
    """Code at 13 px or more, the first commands and config files (Procfile,
    requirements.txt) uncut on either broker, and no table wider than the
    screen (wide ones become cards, tables.js)."""
    base, folder = site
    small, cut, wide = [], [], []
    for html in sorted(folder.glob("*.html")):
        phone.goto(urljoin(base, html.name))
        if html.name in SCREENSHOT_PAGES:
            phone.screenshot(path=SCREENSHOTS / f"{html.stem}-390.png")
        sizes = phone.eval_on_selector_all(
            ".highlight pre",
            "pres => pres.map(p => parseFloat(getComputedStyle(p).fontSize))",
        )
        small += [f"{html.name}: {size} px" for size in sizes if size < 13]
        wide += [
            f"{html.name}: {caption!r} is {width} px in {room} px"
            for caption, width, room in phone.eval_on_selector_all(
                "article table.docutils",
                """tables => tables.map(t => [
                    t.querySelector('caption')?.innerText ?? '',
                    t.scrollWidth, t.parentElement.clientWidth])""",
            )
            if width > room
        ]
        if html.name == "benchmark.html":
            phone.locator("article table.docutils").first.screenshot(
                path=SCREENSHOTS / "table-390.png"
            )
        for broker in ("rabbitmq", "redis") if html.name in FIRST_PAGES else ():
            phone.goto(urljoin(base, f"{html.name}?broker={broker}"))
            cut += [
                f"{html.name} ({broker}): {text!r}"
                for text in phone.eval_on_selector_all(
                    ".highlight-shell pre, .highlight-text pre",
                    """pres => pres.filter(p => p.offsetParent !== null)
                        .filter(p => p.scrollWidth > p.clientWidth)
                        .map(p => p.innerText.split("\\n")[0])""",
                )
            ]
            phone.screenshot(path=SCREENSHOTS / f"{html.name}-390-{broker}.png")
    assert not small, "code under 13 px on a phone"
    assert not cut, "commands cut off on a 390-px phone"
    assert not wide, "tables wider than a 390-px phone"


def test_the_index_shows_where_to_start_on_the_first_phone_screen(
    site: tuple[str, Path], phone: playwright.Page
) -> None:
    base, _ = site
    phone.goto(base)
    start = phone.locator("article a[href='install.html']").first
    box = start.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
    phone.screenshot(path=SCREENSHOTS / "index-390.png")
    steps = phone.locator("article .toctree-wrapper").first.locator("li > a")
    assert steps.all_inner_texts()[:5] == [
        "1. Install",
        "2. Configure",
        "3. Actors",
        "4. Views",
        "5. Workers",
    ]


def test_the_diagram_and_the_plot_are_readable_on_a_phone(
    site: tuple[str, Path], phone: playwright.Page
) -> None:
    base, folder = site
    small = []
    for name in ("index.html", "benchmark.html"):
        phone.goto(urljoin(base, name))
        for image in phone.locator("article img[src$='.svg']").all():
            svg = (folder / name).parent / image.get_attribute("src")
            text = svg.read_text()
            view_width = float(re.search(r'viewBox="[\d.]+ [\d.]+ ([\d.]+)', text)[1])
            sizes = [float(s) for s in re.findall(r'font-size[=:]\s*"?([\d.]+)', text)]
            scale = image.bounding_box()["width"] / view_width
            if min(sizes) * scale < 12:
                small.append(f"{svg.name}: {min(sizes) * scale:.1f} px")
    assert not small, "text under 12 px on a 390-px phone"
