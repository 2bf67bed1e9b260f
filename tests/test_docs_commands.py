"""A reader who follows a page's commands needs nothing the page leaves out.

Read in the built HTML, as a reader sees it: a step that opens a new
terminal shows the command that activates the virtualenv there, and every
``docker run`` or ``docker exec`` comes with its equivalent without Docker
in the same tab.
"""

from __future__ import annotations

import re

import pytest
from bs4 import Tag

from support.site_build import build_html, main_content, tab_label

ACTIVATE = ". .venv/bin/activate"
# "terminal escape" is a character sequence, not a window to open.
NEW_TERMINAL = re.compile(r"\bterminals?\b(?! escapes?)", re.IGNORECASE)
# What runs a broker without Docker, by the image a docker run starts.
LOCAL_SERVER = {
    "rabbitmq": "rabbitmq-server",
    "redis": "redis-server",
    "postgres": "pg_ctl",
}


@pytest.fixture(scope="module")
def pages() -> dict[str, Tag]:
    app = build_html()
    return {page: main_content(page) for page in sorted(app.env.found_docs)}


def code_lines(element: Tag) -> list[str]:
    """The commands of the code blocks in ``element``, continued lines joined."""
    text = "\n".join(pre.get_text() for pre in element.select("div.highlight pre"))
    return [line.strip() for line in text.replace("\\\n", " ").splitlines()]


def test_every_step_that_opens_a_terminal_activates_the_virtualenv(
    pages: dict[str, Tag],
) -> None:
    missing = []
    for page, main in pages.items():
        for section in main.select("section"):
            own = [
                p for p in section.find_all("p") if p.find_parent("section") is section
            ]
            if not any(NEW_TERMINAL.search(p.get_text(" ")) for p in own):
                continue
            # A block of its own: the install step's activation is for the
            # first terminal only.
            for label in ("RabbitMQ", "Redis"):
                shown = [
                    pre.get_text().strip()
                    for pre in section.select("div.highlight pre")
                    if tab_label(pre) in (label, None)
                ]
                if ACTIVATE not in shown:
                    missing.append(f"{page} #{section.get('id')} ({label})")
    assert not missing, "A new terminal without the virtualenv's activation:\n" + (
        "\n".join(missing)
    )


def test_every_docker_command_has_its_equivalent_in_the_same_tab(
    pages: dict[str, Tag],
) -> None:
    missing = []
    for page, main in pages.items():
        for panel in main.select("div.sphinx-tabs-panel"):
            lines = code_lines(panel)
            for line in lines:
                words = line.split()
                if words[:2] == ["docker", "exec"]:
                    # Compared word by word: a continued line keeps its indent.
                    if not any(
                        other.removeprefix("sudo ").split() == words[3:]
                        for other in lines
                    ):
                        missing.append(f"{page} ({tab_label(panel)}): {line}")
                elif words[:2] == ["docker", "run"]:
                    image = re.search(r"\s(rabbitmq|redis|postgres):\S+", line)
                    assert image, line
                    server = LOCAL_SERVER[image.group(1)]
                    if not any(
                        server in other.split() and not other.startswith("docker")
                        for other in lines
                    ):
                        missing.append(f"{page} ({tab_label(panel)}): {line}")
    assert not missing, "docker commands with no equivalent without Docker:\n" + (
        "\n".join(missing)
    )
