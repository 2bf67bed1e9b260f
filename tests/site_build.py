"""Build the HTML site in-process, as `nox -s docs` builds it.

The build goes to docs/_build/html, so after `nox -s docs` Sphinx finds
little or nothing to rebuild. One build serves every test of a process.
"""

from __future__ import annotations

import functools
from pathlib import Path

from sphinx.application import Sphinx

DOCS = Path(__file__).resolve().parent.parent / "docs"
HTML = DOCS / "_build" / "html"


@functools.cache
def build_html() -> Sphinx:
    """Bring docs/_build/html up to date; return the app (its env, its outdir)."""
    app = Sphinx(DOCS, DOCS, HTML, HTML / ".doctrees", "html", status=None)
    app.build()
    return app
