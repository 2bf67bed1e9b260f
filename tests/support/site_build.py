"""Build the HTML site in-process, as `nox -s docs` builds it, and read its pages.

The build goes to docs/_build/html, so after `nox -s docs` Sphinx finds
little or nothing to rebuild. One build, and one parse of each page, serves
every test of a process.

Sphinx reads again only the pages that changed, so a warning on a page left
as it was would show once and never again. A build with warnings therefore
removes its saved environment: the next build, here or in `nox -s docs`,
reads every page and warns again.
"""

from __future__ import annotations

import fcntl
import functools
import io
from pathlib import Path

from bs4 import BeautifulSoup, Tag
from docutils import nodes
from sphinx.application import ENV_PICKLE_FILENAME, Sphinx
from sphinx.util.docutils import docutils_namespace

DOCS = Path(__file__).resolve().parents[2] / "docs"
HTML = DOCS / "_build" / "html"
# Where sphinx-build keeps what it read: `nox -s docs` and these tests share it.
DOCTREES = HTML / ".doctrees"


def build_html() -> Sphinx:
    """Bring docs/_build/html up to date; return the app (its env, its outdir)."""
    return _build()[0]


def build_warnings() -> str:
    """The warnings of this process's build, of the pages it read or wrote."""
    return _build()[1]


@functools.cache
def _build() -> tuple[Sphinx, str]:
    warnings = io.StringIO()
    # The test processes of lint and site build at the same time: one at a
    # time, or two builds replace the same files (seen in CI: searchindex.js).
    # The namespace keeps this app's directives and nodes from leaking into
    # another build in the same process. Nitpicky, as `nox -s docs` builds.
    HTML.mkdir(parents=True, exist_ok=True)
    with open(HTML.parent / "build.lock", "w") as lock, docutils_namespace():
        fcntl.flock(lock, fcntl.LOCK_EX)
        app = Sphinx(
            DOCS, DOCS, HTML, DOCTREES, "html",
            status=None, warning=warnings, confoverrides={"nitpicky": True},
        )  # fmt: skip
        app.build()
        if warnings.getvalue():
            forget_environment()
    return app, warnings.getvalue()


def forget_environment() -> None:
    """Make the next build read every page again (see the module's docstring)."""
    (DOCTREES / ENV_PICKLE_FILENAME).unlink(missing_ok=True)


def shown_files(block: nodes.literal_block) -> list[Path]:
    """The files a code block shows: its source, and the other broker's copy
    when the page shows the block once for both (docs/_ext/same_for_both.py)."""
    return [
        Path(block[key]).resolve()
        for key in ("source", "also_source")
        if block.get(key)
    ]


@functools.cache
def main_content(page: str) -> Tag:
    """The page's main column as a reader reads it: furo's <article>, parsed."""
    app = build_html()
    text = (Path(app.outdir) / app.builder.get_target_uri(page)).read_text()
    # Only the article: parsing the navigation too would take a third longer.
    start, end = text.index('<article role="main"'), text.index("</article>")
    return BeautifulSoup(text[start : end + len("</article>")], "lxml")


def tab_label(element: Tag) -> str | None:
    """The label of the sphinx-tabs tab ``element`` sits in ("Redis"), if any."""
    panel = element
    if "sphinx-tabs-panel" not in element.get("class", []):
        panel = element.find_parent("div", class_="sphinx-tabs-panel")
    if panel is None:
        return None
    tablist = panel.parent.find("div", role="tablist", recursive=False)
    return tablist.find("button", id=panel["aria-labelledby"]).get_text().strip()
