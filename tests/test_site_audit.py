"""Every page of the built site through axe-core, in headless Chromium.

Run by `nox -s audit` (CI runs it after `nox`): it takes half a minute.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright import sync_api as playwright

from support.site_server import (
    SCREENSHOT_PAGES,
    SCREENSHOTS,
    fixture_browser,  # noqa: F401  (the fixture "browser")
    fixture_page,  # noqa: F401  (the fixture "page")
    fixture_scheme_page,  # noqa: F401  (the fixture "scheme_page")
    fixture_site,  # noqa: F401  (the fixture "site")
)

pytestmark = [pytest.mark.browser, pytest.mark.audit]


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
        if html.name in SCREENSHOT_PAGES:
            page.screenshot(path=SCREENSHOTS / f"{html.stem}-1280.png")
    assert not found, "axe-core"


def test_text_contrast_passes_axe_in_light_and_dark_mode(
    site: tuple[str, Path], scheme_page: tuple[str, playwright.Page]
) -> None:
    base, _ = site
    scheme, page = scheme_page
    found = []
    for name in CONTRAST_PAGES:
        page.goto(urljoin(base, name))
        found += axe_violations(page, {"runOnly": ["color-contrast"]})
    assert not found, f"axe-core, {scheme} mode"
