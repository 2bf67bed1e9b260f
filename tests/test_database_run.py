"""docs/database.rst, 'Run it': the Procfile's app and worker, on PostgreSQL.

The page's commands create the table in a database of the test's own; the
page's curl commands create a user, and read it back once the worker has
welcomed it. Dramatiq's main process holds no database connection: only
the worker processes it starts do, each its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support.examples import Example, example_params, with_empty_queues
from support.one_machine import (
    curl,
    fixture_database_url,  # noqa: F401  (the fixture "database_url")
)
from support.processes import broker_connections, process_connections, wait_for

QUEUE = "database"
PAGE_PORT = "127.0.0.1:5000"


@pytest.fixture(name="example", params=example_params("database"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


def page_curl(example: Example, section: str, port: int, **replace: str) -> str:
    """The page's curl command of ``section``, sent to the test's app."""
    return curl(example, section, {PAGE_PORT: f"127.0.0.1:{port}", **replace})


@pytest.mark.smoke
def test_a_new_user_is_welcomed_by_the_worker(
    example: Example, database_url: str, tmp_path: Path
) -> None:
    worker = example.start("worker", tmp_path)
    try:
        with example.web_server(tmp_path) as port:
            answer = json.loads(page_curl(example, "request", port))
            user_id = answer["user_id"]
            worker.wait_for_output("Welcome, 'Ada'!", timeout=20)
            shown = {"users/1": f"users/{user_id}"}
            wait_for(
                lambda: json.loads(page_curl(example, "status", port, **shown))[
                    "welcomed"
                ],
                timeout=10,
                what="the user to read as welcomed",
            )
            assert json.loads(page_curl(example, "status", port, **shown)) == {
                "name": "Ada",
                "welcomed": True,
            }
        # The worker processes keep their pooled connections; dramatiq's main
        # process, which started them, never imported the app: no connection
        # of its own, and none inherited by them.
        port = urlsplit(database_url).port or 5432
        assert broker_connections(worker.popen.pid, port) >= 1
        assert process_connections(worker.popen.pid, port) == 0
    finally:
        worker.kill_group()
    assert "WARNING" not in worker.output()
