"""The docs show examples/, all of it, and nothing else.

These tests read the site's doctrees, from the build `nox -s docs` makes
(brought up to date in-process), and where every code block came from, so
they catch any way of writing inline code, not only the directives a regex
would know.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from docutils import nodes
from sphinx.application import Sphinx

from markers import MARKER
from same_for_both import broker_tabs, is_tab_set, same_content
from support.examples import EXAMPLES, ROOT
from support.site_build import build_html, build_warnings, shown_files

DOCS = ROOT / "docs"
TAB_LABELS = ["RabbitMQ", "Redis"]
NOT_EXAMPLES = {"__pycache__", ".venv", ".pytest_cache"}


class Site:
    def __init__(self, app: Sphinx, warnings: str) -> None:
        self.app = app
        self.warnings = warnings

    @property
    def pages(self) -> list[str]:
        return sorted(self.app.env.found_docs)

    def doctree(self, page: str) -> nodes.document:
        return self.app.env.get_doctree(page)

    def code_blocks(self, page: str) -> Iterator[nodes.Element]:
        yield from self.doctree(page).findall(
            lambda node: isinstance(node, nodes.literal_block | nodes.doctest_block)
        )

    def shown_files(self) -> set[Path]:
        """Every file a block shows; a block shown once for both brokers, two."""
        return {
            path
            for page in self.pages
            for block in self.code_blocks(page)
            for path in shown_files(block)
        }


@pytest.fixture(scope="module")
def site() -> Site:
    return Site(build_html(), build_warnings())


def test_docs_build_without_warnings(site: Site) -> None:
    # A literalinclude of a missing file or marker is a warning, not a crash.
    # After `nox -s docs`, only what changed since is built again here.
    assert site.warnings == ""


def test_every_code_block_is_included_from_examples(site: Site) -> None:
    inline = [
        f"{page}.rst:{block.line}: {block.astext()[:40]!r}"
        for page in site.pages
        for block in site.code_blocks(page)
        if not Path(block.get("source", DOCS / page)).resolve().is_relative_to(EXAMPLES)
    ]
    assert not inline, "code written in docs/, not included from examples/"


def test_no_code_block_shows_a_section_marker(site: Site) -> None:
    # docs/_ext/section_markers.py drops them from whole-file includes.
    shown = [
        f"{page}.rst:{block.line}"
        for page in site.pages
        for block in site.code_blocks(page)
        if MARKER.search(block.astext())
    ]
    assert not shown, "a # [docs:...] marker shows on the page"


def test_every_example_file_is_shown_in_the_docs(site: Site) -> None:
    files = {
        path.resolve()
        for path in EXAMPLES.rglob("*")
        if path.is_file() and not NOT_EXAMPLES & set(path.parts)
    }
    orphans = sorted(str(p.relative_to(EXAMPLES)) for p in files - site.shown_files())
    assert not orphans, "example files no page includes"


def test_every_tab_set_offers_rabbitmq_then_redis(site: Site) -> None:
    for page in site.pages:
        for tabs in site.doctree(page).findall(is_tab_set):
            assert [label for label, _ in broker_tabs(tabs)] == TAB_LABELS, page


def test_each_tab_shows_only_its_own_brokers_files(site: Site) -> None:
    for page in site.pages:
        for block in site.code_blocks(page):
            broker = Path(block["source"]).resolve().relative_to(EXAMPLES).parts[1]
            label = enclosing_tab(block)
            if label is not None:
                assert label.lower() == broker, f"{page}.rst:{block.line}"


def test_a_block_outside_the_tabs_is_the_same_for_both_brokers(site: Site) -> None:
    """Only docs/_ext/same_for_both.py takes a block out of the tabs: when the
    Redis tab showed exactly what the RabbitMQ tab shows, from the same file
    of the same example."""
    for page in site.pages:
        for block in site.code_blocks(page):
            if enclosing_tab(block) is not None:
                continue
            where = f"{page}.rst:{block.line}: a block outside the broker tabs"
            shown = Path(block["source"]).resolve().relative_to(EXAMPLES)
            assert block.get("also_source"), where
            also = Path(block["also_source"]).resolve().relative_to(EXAMPLES)
            assert shown.parts[1:2] == ("rabbitmq",), where
            assert also == Path(shown.parts[0], "redis", *shown.parts[2:]), where
            assert in_both_brokers(block), where


def test_a_tab_set_shows_something_different_in_each_tab(site: Site) -> None:
    same = [
        f"{page}.rst:{tabs.line or tabs.children[1].line}"
        for page in site.pages
        for tabs in site.doctree(page).findall(is_tab_set)
        if same_content(broker_tabs(tabs))
    ]
    assert not same, "tab sets whose RabbitMQ and Redis tabs show the same"


def in_both_brokers(node: nodes.Node) -> bool:
    return any("both-brokers" in above.get("classes", []) for above in ancestors(node))


def test_tabs_are_group_tabs_so_they_stay_in_sync() -> None:
    for page in DOCS.glob("*.rst"):
        text = page.read_text()
        tabs = re.findall(r"^\s*\.\. ([\w-]*tab)::(.*)$", text, flags=re.MULTILINE)
        assert all(kind == "group-tab" for kind, _ in tabs), page.name
        assert {name.strip() for _, name in tabs} <= set(TAB_LABELS), page.name


def test_install_page_shows_every_brokers_requirements(site: Site) -> None:
    install = {Path(block["source"]) for block in site.code_blocks("install")}
    for broker in ("rabbitmq", "redis"):
        folder = EXAMPLES / "quickstart" / broker
        assert {folder / "requirements.txt", folder / "commands.sh"} <= install


def test_every_section_page_shows_both_brokers(site: Site) -> None:
    # In broker tabs where the two differ, once for both where they do not.
    for page in ["install", "configure", "actors", "views", "workers"]:
        blocks = list(site.code_blocks(page))
        assert blocks, page
        for block in blocks:
            assert enclosing_tab(block) or in_both_brokers(block), page


def enclosing_tab(node: nodes.Node) -> str | None:
    """The label of the broker tab ``node`` sits in, if any."""
    while node.parent is not None:
        if is_tab_set(node.parent):
            return next(label for label, tab in broker_tabs(node.parent) if tab is node)
        node = node.parent
    return None


# One idea per page: FastAPI's tutorial pages have 684 words of prose at the
# median, the Flask tutorial's about 525.
MOST_WORDS = 1_500
NOT_PROSE = (nodes.literal_block, nodes.title, nodes.caption, nodes.table)


def prose_words(doctree: nodes.document) -> int:
    """Words a reader reads on the page: not its code, titles or tables."""
    return sum(
        len(text.astext().split())
        for text in doctree.findall(nodes.Text)
        if not any(isinstance(node, NOT_PROSE) for node in ancestors(text))
    )


def ancestors(node: nodes.Node) -> Iterator[nodes.Node]:
    while node.parent is not None:
        node = node.parent
        yield node


def test_no_page_has_more_than_1500_words_of_prose(site: Site) -> None:
    words = {page: prose_words(site.doctree(page)) for page in site.pages}
    print("\nProse words per page:", dict(sorted(words.items(), key=lambda i: -i[1])))
    long = {page: count for page, count in words.items() if count > MOST_WORDS}
    assert not long, f"pages over {MOST_WORDS:,} words of prose: split them"


def highlighted_runs(block: nodes.Element) -> list[list[int]]:
    """The block's highlighted lines, as runs of consecutive line numbers."""
    runs: list[list[int]] = []
    for number in block.get("highlight_args", {}).get("hl_lines", []):
        if not runs or number != runs[-1][-1] + 1:
            runs.append([])
        runs[-1].append(number)
    return runs


def test_each_highlighted_run_is_followed_by_the_sentence_that_explains_it(
    site: Site,
) -> None:
    # One run a block, then prose: a reader's eye goes from the lines to their
    # explanation, never counts runs to match them with a numbered list.
    unexplained = []
    for page in site.pages:
        for block in site.code_blocks(page):
            runs = highlighted_runs(block)
            if not runs:
                continue
            shown = block  # The block, or the tab set or container it sits in.
            while not isinstance(shown.parent, nodes.section | nodes.document):
                shown = shown.parent
            after = shown.next_node(descend=False, siblings=True)
            if len(runs) > 1 or not isinstance(after, nodes.paragraph):
                what = type(after).__name__ if after else "nothing"
                unexplained.append(
                    f"{page}.rst:{block.line}: {len(runs)} runs, then {what}"
                )
    assert not unexplained


def test_emphasized_lines_start_and_end_on_code(site: Site) -> None:
    # Line numbers drift when a file changes above them; a highlighted run
    # that now starts or ends on a blank line or a comment shows the drift.
    drifted = []
    for page in site.pages:
        for block in site.code_blocks(page):
            lines = block.astext().splitlines()
            for run in highlighted_runs(block):
                for number in (run[0], run[-1]):
                    text = lines[number - 1].strip()
                    if not text or text.startswith("#"):
                        drifted.append(f"{page}.rst:{block.line}: line {number}")
    assert not drifted
