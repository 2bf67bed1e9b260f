"""docs/reliability.rst, 'Start PostgreSQL': the page's commands without Docker."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from support.databases import query
from support.examples import Example
from support.processes import free_port
from support.reliability import (
    fixture_example,  # noqa: F401  (the fixture "example")
    guide_commands,
)

pytestmark = pytest.mark.reliability


def test_the_guides_local_postgresql_takes_the_examples_tables(
    example: Example,
) -> None:
    """The page's no-Docker commands start a PostgreSQL on 127.0.0.1 that the
    example's create-tables command fills, on a free port (PGPORT) instead of
    5432. initdb refuses to run as root: as root, the test runs them as the
    postgres user."""
    bindir = pg_bindir()
    if bindir is None or (os.geteuid() == 0 and not has_user("postgres")):
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL's initdb, and a postgres user as root")
        pytest.skip("needs PostgreSQL's initdb (and, as root, a postgres user)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="guide-pgdata-"))
    if as_user:
        shutil.chown(folder, "postgres")
    port = free_port()
    env = ["env", f"PATH={bindir}:{os.environ['PATH']}", f"PGPORT={port}"]
    script = "\n".join(["set -e", *example.commands("start-database-locally")])
    try:
        started = subprocess.run(
            [*as_user, *env, "bash", "-c", script],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        output = guide_commands(example, "create-tables", {"DATABASE_URL": url})
        tables = query(
            url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    finally:
        subprocess.run(
            [*as_user, *env, "pg_ctl", "--pgdata=pgdata", "--mode=immediate", "stop"],
            cwd=folder,
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)

    assert output == "The tables are ready.\n"
    assert {name for (name,) in tables} == {"done", "imported_rows", "import_keys"}
    # Listening on 127.0.0.1 only, and on no Unix socket.
    assert "listen_addresses=127.0.0.1" in script


def pg_bindir() -> str | None:
    """The folder of PostgreSQL's server programs, such as initdb, if installed."""
    if shutil.which("initdb"):
        return str(Path(shutil.which("initdb")).parent)
    if shutil.which("pg_config"):
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if (Path(bindir) / "initdb").exists():
            return bindir
    return None


def has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
