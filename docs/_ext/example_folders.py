"""Offer each example folder as a zip, and say which page a page builds on.

``.. get-the-code:: email`` puts one line on the page that links the zip of
each broker's folder, ``examples/email/<broker>/``. The
``:example-zip:`email/redis``` role links one zip anywhere. The HTML build
writes the zips, one per broker folder, to ``_downloads/examples/`` in the
output: the folder's files as git sees them (tracked, or new and not
ignored), never what running the example leaves behind.

``.. start-from:: configure`` renders "Start from the files you made in
Configure." for the reader, and tells tests/test_docs_rebuildable.py which
page's code a reader already has (the paragraph's ``start-from`` class).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.docutils import SphinxDirective, SphinxRole
from sphinx.util.osutil import relative_uri

BROKERS = {"rabbitmq": "RabbitMQ", "redis": "Redis"}
DOWNLOADS = "_downloads/examples"
# What running an example leaves in its folder, kept out of every zip even
# where .gitignore misses it.
LEFTOVERS = [
    "__pycache__", "*.pyc", ".venv", "venv", ".pytest_cache", ".ruff_cache",
    ".mypy_cache", "*.sqlite3", "*.sqlite3-*", ".env", "uploads", "*.log",
    ".DS_Store",
]  # fmt: skip
# A zip's entries carry this date, so an unchanged folder gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def examples_dir(env: BuildEnvironment) -> Path:
    return (Path(env.srcdir) / env.config.examples_dir).resolve()


def zip_name(folder: str) -> str:
    """``email/redis`` -> ``email-redis.zip``."""
    return folder.replace("/", "-") + ".zip"


class example_zip(nodes.Inline, nodes.TextElement):
    """A link to a folder's zip; becomes a reference once the builder is known."""


class ExampleZipRole(SphinxRole):
    """``:example-zip:`email/redis``` links ``email-redis.zip``."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        folder = self.text.strip().strip("/")
        if not (examples_dir(self.env) / folder / "commands.sh").is_file():
            message = self.inliner.reporter.error(
                f"no example folder examples/{folder}/", line=self.lineno
            )
            return [], [message]
        return [example_zip(folder=folder)], []


class GetTheCode(SphinxDirective):
    """One line linking each broker's folder of the example.

    Not a tab set: it would take a tab strip and a panel, near the top of
    the page, for one line that differs only in the broker's name.
    """

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        topic = self.arguments[0]
        links = " or ".join(
            f"for {label}, :example-zip:`{topic}/{broker}`"
            for broker, label in BROKERS.items()
        )
        result = self.parse_text_to_nodes(
            f"Get the code: the complete example {links}."
        )
        for paragraph in result:
            paragraph["classes"].append("get-the-code")
        return result


class StartFrom(SphinxDirective):
    """ "Start from the files you made in <page>.", in a ``start-from`` paragraph."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        text = f"Start from the files you made in :doc:`{self.arguments[0]}`."
        result = self.parse_text_to_nodes(text)
        for paragraph in result:
            paragraph["classes"].append("start-from")
        return result


def resolve_zip_links(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(example_zip)):
        name = zip_name(node["folder"])
        text = nodes.literal(name, name)
        if app.builder.format == "html":
            here = app.builder.get_target_uri(docname)
            link = nodes.reference(
                "",
                "",
                text,
                refuri=relative_uri(here, f"{DOWNLOADS}/{name}"),
                internal=True,
                classes=["example-zip"],
            )
            node.replace_self(link)
        else:
            node.replace_self(text)


def folder_files(folder: Path) -> list[Path]:
    """The files of ``folder`` a reader gets, relative to it, sorted."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=folder,
            capture_output=True,
            check=True,
        ).stdout.decode()
        files = [Path(name) for name in listing.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # No git, or no repository.
        files = [p.relative_to(folder) for p in folder.rglob("*") if p.is_file()]
    return sorted(
        path
        for path in files
        if (folder / path).is_file()
        and not any(fnmatch.fnmatch(part, p) for part in path.parts for p in LEFTOVERS)
    )


def write_zip(folder: Path, top: str, target: Path) -> None:
    """Zip ``folder``'s files under the folder name ``top``, byte for byte reproducibly."""
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in folder_files(folder):
            entry = zipfile.ZipInfo(f"{top}/{path.as_posix()}", ZIP_DATE)
            executable = (folder / path).stat().st_mode & 0o100
            entry.external_attr = (0o100755 if executable else 0o100644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, (folder / path).read_bytes())
    os.replace(partial, target)


def write_zips(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / DOWNLOADS
    target.mkdir(parents=True, exist_ok=True)
    root = examples_dir(app.env)
    for commands in sorted(root.glob("*/*/commands.sh")):
        folder = commands.parent.relative_to(root).as_posix()
        write_zip(commands.parent, zip_name(folder)[:-4], target / zip_name(folder))


def source_digest() -> str:
    """Changes with this file: a changed extension re-reads every page."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def setup(app: Sphinx) -> dict[str, object]:
    app.add_config_value("examples_dir", "../examples", "env", str)
    app.add_config_value("example_folders_digest", source_digest(), "env", str)
    app.add_node(example_zip)
    app.add_role("example-zip", ExampleZipRole())
    app.add_directive("get-the-code", GetTheCode)
    app.add_directive("start-from", StartFrom)
    app.connect("doctree-resolved", resolve_zip_links)
    app.connect("build-finished", write_zips)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
