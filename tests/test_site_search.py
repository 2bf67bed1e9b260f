"""The built site as search finds it: the search box, and search engines.

Run by `nox -s audit` (CI runs it after `nox`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from playwright import sync_api as playwright

from support.site_server import (
    fixture_browser,  # noqa: F401  (the fixture "browser")
    fixture_page,  # noqa: F401  (the fixture "page")
    fixture_site,  # noqa: F401  (the fixture "site")
)

pytestmark = [pytest.mark.browser, pytest.mark.audit]


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
