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


def broker_tabs(tab_set: nodes.Element) -> list[tuple[str, nodes.Element]]:
    """(label, the node holding the tab's content) of each tab of ``tab_set``.

    sphinx-tabs builds two shapes: for HTML, a tab list of buttons followed
    by one panel per tab; for other builders, one container per tab holding
    its label and its content.
    """
    first = tab_set.children[0]
    if first.get("role") == "tablist":
        labels = [button.astext().strip() for button in first.children]
        return list(zip(labels, tab_set.children[1:], strict=True))
    return [
        (tab.children[0].astext().strip(), tab.children[1]) for tab in tab_set.children
    ]


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


def same_content(tabs: list[tuple[str, nodes.Element]]) -> bool:
    """True if every tab shows the same children (their panels' own ids differ)."""
    contents = [[shows(child) for child in content.children] for _, content in tabs]
    return all(content == contents[0] for content in contents)


def collapse_identical_tabs(app: Sphinx, doctree: nodes.document) -> None:
    for tab_set in list(doctree.findall(is_tab_set)):
        tabs = broker_tabs(tab_set)
        if [label for label, _ in tabs] != list(BROKERS) or not same_content(tabs):
            continue
        (_, rabbitmq), (_, redis) = tabs
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
