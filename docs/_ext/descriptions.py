"""Give every page a meta description: its lead, the paragraph under its title.

Search engines show it under the link, and a page whose lead already says
what the reader will do makes the best one. Written by no one, it cannot
drift from the page.
"""

from __future__ import annotations

from html import escape

from docutils import nodes
from sphinx.application import Sphinx

# Search engines cut a description at about 160 characters.
LONGEST = 160


def lead(doctree: nodes.document) -> str | None:
    """The text of the page's first paragraph, cut at a sentence to fit."""
    for paragraph in doctree.findall(nodes.paragraph):
        text = " ".join(paragraph.astext().split())
        if not text:
            continue
        if len(text) <= LONGEST:
            return text
        # Whole sentences if they say enough, else words up to an ellipsis.
        sentences, period, _ = text[:LONGEST].rpartition(". ")
        if period and len(sentences) >= LONGEST // 2:
            return sentences + "."
        return text[: LONGEST - 1].rsplit(" ", 1)[0] + "…"
    return None


def add_description(
    app: Sphinx, page: str, template: str, context: dict, doctree: nodes.document | None
) -> None:
    if doctree is None or "description" in context.get("metatags", ""):
        return
    if text := lead(doctree):
        tag = f'<meta name="description" content="{escape(text)}" />\n'
        context["metatags"] = context.get("metatags", "") + tag


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("html-page-context", add_description)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
