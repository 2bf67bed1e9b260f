"""Scale out: each example runs on one machine first, as the Procfile gives it.

The Procfile's app and worker run against the test's broker and a database
of the test's own; the page's two curl commands, pointed at this machine,
queue an import and then read the record the worker wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.examples import Example, example_params, with_empty_queues
from support.feeds import feed_server
from support.one_machine import (
    curl,
    fixture_database_url,  # noqa: F401  (the fixture "database_url")
)
from support.processes import wait_for

PAGE_HOST = "198.51.100.30:8000"
SHOWN_ID = "3f2b8a1e-6c1d-4e6b-9a4f-0d2c5e7b9a10"


@pytest.fixture(
    name="example",
    params=[
        pytest.param(param.values[0], id=f"{topic}-{param.id}", marks=param.marks)
        for topic in ("hosts", "ha", "autoscaling")
        for param in example_params(topic)
    ],
)
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    # Each topic's queue has the topic's name.
    yield from with_empty_queues(
        Example(request.param), queues=(request.param.parent.name,)
    )


def page_curl(example: Example, section: str, port: int, **replace: str) -> str:
    """The page's curl command of ``section``, sent to this machine's app."""
    return curl(example, section, {PAGE_HOST: f"127.0.0.1:{port}", **replace})


@pytest.mark.smoke
def test_the_procfile_runs_an_import_on_one_machine(
    example: Example, database_url: str, tmp_path: Path
) -> None:
    worker = example.start("worker", tmp_path)
    try:
        with feed_server(200) as feeds, example.web_server(tmp_path) as port:
            feed = f"http://127.0.0.1:{feeds}/feed.xml"
            answer = page_curl(
                example, "request", port, **{"https://example.com/": feed}
            )
            head, _, body = answer.partition("\n\n")
            assert head.startswith("HTTP/1.1 202"), answer
            import_id = json.loads(body)["import_id"]

            answers: list[dict] = []
            wait_for(
                lambda: (
                    answers.append(
                        json.loads(
                            page_curl(example, "status", port, **{SHOWN_ID: import_id})
                        )
                    )
                    or "state" in answers[-1]
                ),
                timeout=20,
                what=f"the import to be done:\n{worker.output()}",
            )
            assert answers[-1] == {"state": "done", "size": 11}
    finally:
        worker.kill_group()
