"""Keep the index entries in the search of an incremental build.

Sphinx's search drops digits ("503") from its words, but it matches a query
against index entries whole: the glossary's ``503`` term and the
``.. index::`` entries make status codes and error names findable. An
incremental build (Sphinx 9.0) writes the search index with the entries of
the pages it read again only; those of unchanged pages are lost until a
fresh build. So every build reads again the few pages that hold entries.
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

ENTRIES = re.compile(r"^\s*\.\. (index|glossary)::", re.MULTILINE)


def pages_with_entries(
    app: Sphinx,
    env: BuildEnvironment,
    added: set[str],
    changed: set[str],
    removed: set[str],
) -> list[str]:
    return [
        page
        for page in env.found_docs - added - changed - removed
        if ENTRIES.search(Path(env.doc2path(page)).read_text(encoding="utf-8"))
    ]


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("env-get-outdated", pages_with_entries)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
