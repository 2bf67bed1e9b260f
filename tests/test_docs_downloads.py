"""Every page that shows an example offers each broker's folder of it as a zip.

The zips are written by the HTML build (docs/_ext/example_folders.py). A zip
holds exactly the folder's files in git, never what running the example
leaves behind (a virtualenv, bytecode, SQLite files).
"""

from __future__ import annotations

import posixpath
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from docutils import nodes
from sphinx.application import Sphinx

from support.examples import EXAMPLES
from support.site_build import DOCS, build_html, main_content, shown_files, tab_label

sys.path.insert(0, str(DOCS / "_ext"))
import example_folders

TAB_BROKERS = {"RabbitMQ": "rabbitmq", "Redis": "redis"}
LEFTOVERS = [
    "__pycache__/tasks.cpython-311.pyc",
    ".venv/bin/python",
    ".pytest_cache/README.md",
    "sent.sqlite3",
    "sent.sqlite3-journal",
    "imports.sqlite3-wal",
    "uploads/report.csv",
]


@pytest.fixture(scope="module")
def app() -> Sphinx:
    return build_html()


def shown_folders(app: Sphinx, page: str) -> set[tuple[str, str]]:
    """(broker, zip name) of every example folder the page shows a file of."""
    folders = set()
    for block in app.env.get_doctree(page).findall(nodes.literal_block):
        for source in shown_files(block):
            if source.is_relative_to(EXAMPLES):
                topic, broker = source.relative_to(EXAMPLES).parts[:2]
                folders.add((broker, f"{topic}-{broker}.zip"))
    return folders


def offered_zips(app: Sphinx, page: str) -> set[tuple[str, str]]:
    """(broker, zip name) of every zip link on the page, checked to exist."""
    uri = app.builder.get_target_uri(page)
    main = main_content(page)
    offered = set()
    for link in main.select("a.example-zip[href]"):
        target = Path(app.outdir, posixpath.dirname(uri), link["href"])
        assert target.is_file(), f"{page}: {link['href']} is not in the built site"
        broker = target.stem.rpartition("-")[2]
        label = tab_label(link)
        # In a broker's tab, a link offers that broker's folder only.
        assert label is None or TAB_BROKERS[label] == broker, f"{page}: {target.name}"
        offered.add((broker, target.name))
    return offered


def test_get_the_code_is_one_line_that_offers_both_brokers(app: Sphinx) -> None:
    lines = 0
    for page in sorted(app.env.found_docs):
        for line in main_content(page).select("p.get-the-code"):
            lines += 1
            assert line.find_parent(class_="sphinx-tabs") is None, page
            links = [link.get_text() for link in line.select("a.example-zip")]
            assert [name.rpartition("-")[2] for name in links] == [
                "rabbitmq.zip",
                "redis.zip",
            ], page
    assert lines, "no page has a get-the-code line"


def test_every_page_offers_the_zip_of_each_folder_it_shows(app: Sphinx) -> None:
    for page in sorted(app.env.found_docs):
        assert offered_zips(app, page) == shown_folders(app, page), page


def tracked_files(folder: Path) -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=folder, capture_output=True, check=True
    ).stdout.decode()
    return sorted(name for name in listing.split("\0") if name)


@pytest.mark.parametrize(
    "folder",
    sorted(p.parent for p in EXAMPLES.glob("*/*/commands.sh")),
    ids=lambda p: str(p.relative_to(EXAMPLES)),
)
def test_each_zip_holds_exactly_the_folders_tracked_files(
    app: Sphinx, folder: Path
) -> None:
    top = f"{folder.parent.name}-{folder.name}"
    zip_path = Path(app.outdir) / example_folders.DOWNLOADS / f"{top}.zip"
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(archive.namelist())
        assert names == [f"{top}/{name}" for name in tracked_files(folder)]
        for name in names:
            relative = name.removeprefix(f"{top}/")
            assert archive.read(name) == (folder / relative).read_bytes(), name


@pytest.mark.parametrize("in_git", [True, False], ids=["git", "no-git"])
def test_a_zip_leaves_out_what_running_the_example_leaves(
    tmp_path: Path, in_git: bool
) -> None:
    folder = tmp_path / "email-redis"
    shutil.copytree(EXAMPLES / "email" / "redis", folder)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    if in_git:
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
        subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
        subprocess.run([*git, "add", "."], cwd=folder, check=True)
    for leftover in LEFTOVERS:
        (folder / leftover).parent.mkdir(parents=True, exist_ok=True)
        (folder / leftover).write_text("left over from a run\n")

    example_folders.write_zip(folder, "email-redis", tmp_path / "email-redis.zip")
    zipped = tmp_path / "email-redis.zip"
    with zipfile.ZipFile(zipped) as archive:
        assert sorted(archive.namelist()) == [f"email-redis/{name}" for name in files]
    first = zipped.read_bytes()
    example_folders.write_zip(folder, "email-redis", zipped)
    assert zipped.read_bytes() == first, "the same folder gives the same bytes"
