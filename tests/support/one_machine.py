"""An example's app and worker on this machine, with a database of the test's
own: the fixture "database_url", and the page's curl commands sent to it."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from support.databases import new_database, run_database
from support.examples import Example
from support.reliability import guide_commands


@contextmanager
def database_with_tables(example: Example) -> Iterator[str]:
    """A new database, with the tables the page's create-tables commands
    make in it; its URL. Dropped afterwards.

    The commands run once per test run and example: each test gets a copy
    of their database, made as fast as an empty one. Running them for each
    test cost 0.7 s of CPU (Python, Flask and the app).
    """

    def create_tables(url: str) -> None:
        output = guide_commands(example, "create-tables", {"DATABASE_URL": url})
        assert output == "The tables are ready.\n"

    made_by_the_page = run_database(str(example.path), create_tables)
    with new_database(template=made_by_the_page) as url:
        yield url


@pytest.fixture(name="database_url")
def fixture_database_url(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """database_with_tables(), in DATABASE_URL for the test and what it starts."""
    try:
        with database_with_tables(example) as url:
            monkeypatch.setenv("DATABASE_URL", url)
            yield url
    except RuntimeError as error:  # PostgreSQL is not reachable.
        pytest.fail(str(error), pytrace=False)


def curl(example: Example, section: str, replace: dict[str, str]) -> str:
    """The page's curl command of ``section``, with each key of ``replace``
    (the page's address, an id it shows) replaced by its value; its output."""
    command = " ".join(example.commands(section)).replace("\\ ", "")
    for old, new in replace.items():
        assert old in command, (old, command)
        command = command.replace(old, new)
    return subprocess.run(
        shlex.split(command), capture_output=True, text=True, timeout=10, check=True
    ).stdout
