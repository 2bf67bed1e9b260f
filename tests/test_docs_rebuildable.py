"""A reader who copies a page gets files that run.

These tests read the built HTML, as a reader sees it. For every page and each
broker tab, every file the page shows in part must have each of its lines
somewhere on that page, or on the page it says to start from (its
``.. start-from::`` line, followed from page to page; there, a file of the
same name and bytes in another example counts too), or the page must offer
the whole file: show it whole, or link a download of that very file. The
example folder's zip does not count: a reader who copies the page must get
everything from the page.

Lines that need not be shown: blank lines, the ``# [docs:...]`` markers, and
a Python module's docstring. A code block's caption names its file, relative
to the example folder of the page and the tab it sits in; blocks without a
caption (commands, output) are not files a reader creates.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pytest
from bs4 import Tag
from docutils import nodes
from sphinx.application import Sphinx

from markers import MARKER
from support.examples import EXAMPLES
from support.site_build import build_html, main_content, shown_files, tab_label

BROKER_TABS = {"RabbitMQ": "rabbitmq", "Redis": "redis"}


@dataclass
class Block:
    """One code block as the page shows it."""

    brokers: list[str]  # The tab it sits in, or every broker outside the tabs.
    caption: str | None
    language: str
    lines: list[str]


@dataclass
class Page:
    name: str
    folders: dict[str, list[Path]]  # broker -> the example folders it shows
    blocks: list[Block] = field(default_factory=list)
    start_from: list[str] = field(default_factory=list)
    downloads: list[Path] = field(default_factory=list)  # files in the HTML output


@dataclass
class Site:
    pages: dict[str, Page]
    # (page, broker, file) -> the file's line numbers that page shows
    shown: dict[tuple[str, str, Path], set[int]]
    # Blocks whose caption names no file they are part of.
    unplaced: list[str]


@pytest.fixture(scope="module")
def site() -> Site:
    app = build_html()
    pages = {name: read_page(app, name) for name in sorted(app.env.found_docs)}
    shown: dict[tuple[str, str, Path], set[int]] = defaultdict(set)
    unplaced = []
    for page in pages.values():
        for block in page.blocks:
            if block.caption is None:
                if block.language == "python":
                    unplaced.append(f"{page.name}: a Python block without a caption")
                continue
            for broker in block.brokers:
                places = [
                    (folder / block.caption, numbers)
                    for folder in page.folders.get(broker, [])
                    if (folder / block.caption).is_file()
                    if (numbers := locate(block.lines, folder / block.caption))
                ]
                if not places:
                    unplaced.append(
                        f"{page.name} / {broker} / {block.caption}: the block is "
                        "not part of a file of that name in the page's example "
                        f"folders, {page.folders.get(broker, [])}"
                    )
                for path, numbers in places:
                    shown[page.name, broker, path] |= numbers
    return Site(pages, shown, unplaced)


def read_page(app: Sphinx, name: str) -> Page:
    folders: dict[str, list[Path]] = defaultdict(list)
    for block in app.env.get_doctree(name).findall(nodes.literal_block):
        for source in shown_files(block):
            if source.is_relative_to(EXAMPLES):
                topic, broker = source.relative_to(EXAMPLES).parts[:2]
                if EXAMPLES / topic / broker not in folders[broker]:
                    folders[broker].append(EXAMPLES / topic / broker)
    page = Page(name, dict(folders))

    main = main_content(name)
    for pre in main.select("div.highlight pre"):
        highlight = pre.find_parent("div", class_=re.compile(r"^highlight-"))
        language = highlight["class"][0].removeprefix("highlight-")
        wrapper = highlight.parent
        caption = None
        if "literal-block-wrapper" in wrapper.get("class", []):
            caption = wrapper.select_one(".caption-text").get_text()
        lines = pre.get_text().splitlines()
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        page.blocks.append(Block(tab_brokers(pre), caption, language, lines))

    here = posixpath.dirname(app.builder.get_target_uri(name))
    for link in main.select("p.start-from a[href]"):
        target = posixpath.normpath(posixpath.join(here, link["href"].split("#")[0]))
        page.start_from.append(target.removesuffix(".html"))
    for link in main.select("a.download[href]"):
        href = unquote(link["href"].split("#")[0])
        page.downloads.append(Path(app.outdir, posixpath.join(here, href)).resolve())
    return page


def tab_brokers(element: Tag) -> list[str]:
    """The broker of the tab ``element`` sits in, or every broker outside tabs."""
    label = tab_label(element)
    return list(BROKER_TABS.values()) if label is None else [BROKER_TABS[label]]


def file_lines(path: Path) -> list[tuple[int, str]]:
    """The file's numbered lines, without the # [docs:] markers pages hide."""
    return [
        (number, line.rstrip())
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if not MARKER.fullmatch(line)
    ]


def locate(block: list[str], path: Path) -> set[int]:
    """The line numbers of ``path`` that ``block`` shows; empty if not a part of it."""
    lines = file_lines(path)
    texts = [text for _, text in lines]
    wanted = [line.rstrip() for line in block]
    found: set[int] = set()
    for start in range(len(texts) - len(wanted) + 1):
        if texts[start : start + len(wanted)] == wanted:
            found |= {number for number, _ in lines[start : start + len(wanted)]}
    return found


def needed_lines(path: Path) -> list[tuple[int, str]]:
    """The lines a reader must see to rebuild ``path``."""
    docstring: set[int] = set()
    if path.suffix == ".py":
        first = (ast.parse(path.read_text()).body or [None])[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            docstring = set(range(first.lineno, first.end_lineno + 1))
    return [
        (number, text)
        for number, text in file_lines(path)
        if text.strip() and number not in docstring
    ]


def chain(site: Site, name: str) -> list[str]:
    """The page and the pages it says to start from, recursively."""
    order = [name]
    for page in order:
        order += [p for p in site.pages[page].start_from if p not in order]
    return order


def same_file(a: Path, b: Path) -> bool:
    """The same file, or one of the same name and bytes in another example.

    A page that starts from another example's page (Deploy starts from the
    quickstart's Workers) has that example's files: an identical file there
    needs no second showing.
    """
    if a == b:
        return True
    name_a, name_b = (p.relative_to(EXAMPLES).parts[2:] for p in (a, b))
    return name_a == name_b and a.read_bytes() == b.read_bytes()


def unshown_lines(site: Site, page: str, broker: str, path: Path) -> list[str]:
    """The lines of ``path`` that a reader of ``page`` has not seen, if any."""
    pages = chain(site, page)
    shown = set().union(
        *(
            numbers
            for (other_page, other_broker, other), numbers in site.shown.items()
            if other_page in pages and other_broker == broker and same_file(path, other)
        )
    )
    downloads = [d for p in pages for d in site.pages[p].downloads]
    if any(d.is_file() and d.read_bytes() == path.read_bytes() for d in downloads):
        return []  # Offered whole. (The folder's zip is no copy of the file.)
    return [
        f"{page} / {broker} / {path.relative_to(EXAMPLES)}:{number}: {text.strip()}"
        for number, text in needed_lines(path)
        if number not in shown
    ]


def missing_lines(site: Site) -> dict[Path, list[str]]:
    """Per example file, the lines a page shows it without.

    A page may start a file that a later page finishes: "Configure" starts
    tasks.py, "Actors" (which starts from "Configure") adds the actor. The
    file counts as rebuilt where a page that starts from this one, at any
    distance, has all of it.
    """
    missing: dict[Path, list[str]] = defaultdict(list)
    for page, broker, path in sorted(site.shown):
        lines = unshown_lines(site, page, broker, path)
        finished_later = any(
            later != page
            and page in chain(site, later)
            and (later, broker, path) in site.shown
            and not unshown_lines(site, later, broker, path)
            for later in site.pages
        )
        if lines and not finished_later:
            missing[path] += lines
    return dict(missing)


def test_every_captioned_block_is_part_of_the_file_its_caption_names(
    site: Site,
) -> None:
    assert not site.unplaced, "\n".join(site.unplaced)


def test_every_page_can_be_rebuilt_from_what_it_shows(site: Site) -> None:
    missing = missing_lines(site)
    files = {path for _, _, path in site.shown}
    summary = (
        f"{len(missing)} of {len(files)} example files shown on the site cannot "
        "be rebuilt from their pages:\n"
        + "".join(f"  {path.relative_to(EXAMPLES)}\n" for path in sorted(missing))
    )
    print(summary)
    lines = [line for path in sorted(missing) for line in missing[path]]
    assert not missing, summary + "Lines no page shows:\n" + "\n".join(lines)
