"""The ``:measured:`` role: a figure a measurement run wrote, never one typed.

``:measured:`reliability.redelivery_seconds.redis``` shows the value at
``redelivery_seconds`` → ``redis`` of ``docs/_data/reliability.json``. The
tests marked ``measure`` (``nox -s measure``), the reliability suite and the
benchmark write these files (tests/support/figures.py); a page that names a
figure no run wrote fails the build.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst.states import Inliner
from sphinx.application import Sphinx
from sphinx.util import logging

from figure_data import DATA

logger = logging.getLogger(__name__)


@functools.lru_cache
def stored_figures(file: Path, mtime_ns: int) -> dict:
    """The figures of ``file``, read once per version of it: a page names
    dozens, and a measurement run may rewrite the file between two builds."""
    return json.loads(file.read_text())


def lookup(reference: str, data: Path = DATA) -> object:
    """The value ``reference`` (``<file>.<key>.<key>…``) names in ``data``."""
    name, _, path = reference.partition(".")
    file = data / f"{name}.json"
    if not file.is_file() or not path:
        raise LookupError(f"no figure {reference!r}: no {file.name} or no key")
    value: object = stored_figures(file, file.stat().st_mtime_ns)
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise LookupError(f"no figure {reference!r} in {file.name}")
        value = value[key]
    if isinstance(value, (dict, list)):
        raise TypeError(f"figure {reference!r} is not one value")
    return value


def shown(value: object) -> str:
    """How a page prints a figure: thousands separated, as the prose does."""
    if isinstance(value, bool):
        raise TypeError("a figure is a number or a string")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def measured_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Inliner,
    options: dict | None = None,
    content: list[str] | None = None,
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    env = inliner.document.settings.env
    try:
        value = shown(lookup(text))
    except (LookupError, TypeError) as error:
        message = inliner.reporter.error(str(error), line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    # Rebuild the page when a measurement run rewrites the file.
    env.note_dependency(str(DATA / f"{text.partition('.')[0]}.json"))
    return [nodes.inline(rawtext, value, classes=["measured"])], []


def setup(app: Sphinx) -> dict[str, bool]:
    app.add_role("measured", measured_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
