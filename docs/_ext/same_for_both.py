"""Show a RabbitMQ/Redis tab set once when both tabs show the same thing.

The pages put every example block in broker tabs. Where the two tabs hold
the same code (same text, caption, language and highlighted lines), clicking
Redis would change nothing and leave the reader unsure: this transform
replaces such a tab set by the RabbitMQ tab's content, under the line "Same
for RabbitMQ and Redis". Each block it keeps remembers the Redis file it
stands for (``also_source``), so the checks that read where blocks come from
still see both examples. A tab set that survives differs, by construction.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx

BROKERS = ("RabbitMQ", "Redis")
# Attributes that name where a node came from, not what it shows.
ORIGIN = {"source", "line", "ids", "names", "dupnames", "backrefs", "also_source"}


def is_tab_set(node: nodes.Node) -> bool:
    return isinstance(node, nodes.container) and node.get("type") == "tab-element"


def shows(node: nodes.Node) -> tuple:
    """What ``node`` shows a reader: its kind, attributes and text, recursively."""
    if isinstance(node, nodes.Text):
        return ("text", str(node))
    attributes = sorted(
        (name, repr(value))
        for name, value in node.attributes.items()
        if name not in ORIGIN
    )
    return (type(node).__name__, attributes, [shows(child) for child in node.children])


def collapse_identical_tabs(app: Sphinx, doctree: nodes.document) -> None:
    for tab_set in list(doctree.findall(is_tab_set)):
        tabs = tab_set.children
        if [tab.children[0].astext().strip() for tab in tabs] != list(BROKERS):
            continue
        rabbitmq, redis = (tab.children[1] for tab in tabs)
        if shows(rabbitmq) != shows(redis):
            continue
        pairs = zip(
            rabbitmq.findall(nodes.literal_block),
            redis.findall(nodes.literal_block),
            strict=True,
        )
        for kept, dropped in pairs:
            kept["also_source"] = dropped.get("source", "")
        note = nodes.paragraph(
            "", "Same for RabbitMQ and Redis", classes=["same-for-both"]
        )
        shown = nodes.container("", note, *rabbitmq.children, classes=["both-brokers"])
        tab_set.replace_self(shown)


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("doctree-read", collapse_identical_tabs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
