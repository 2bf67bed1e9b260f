"""docs/error_reports.rst: one Sentry event per message that fails for good.

The Procfile's worker reports to a stand-in for Sentry on 127.0.0.1
(support/sentry.py). An import that fails on every attempt sends one event,
after its last attempt, with the message id and without the message's
arguments; an import that works sends none.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.examples import Example, example_params, with_empty_queues
from support.feeds import feed_server
from support.processes import Process, wait_for
from support.sentry import FakeSentry, fake_sentry

QUEUE = "feeds"
# Two retries, 0.1 to 0.2 s apart: the three attempts take a second, not minutes.
FAST_RETRIES = {
    "FEED_MAX_RETRIES": "2",
    "FEED_MIN_BACKOFF_MS": "100",
    "FEED_MAX_BACKOFF_MS": "200",
}


@pytest.fixture(name="example", params=example_params("error_reports"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.fixture(name="sentry")
def fixture_sentry() -> Iterator[FakeSentry]:
    with fake_sentry() as sentry:
        yield sentry


def page_dsn(example: Example) -> str:
    """The DSN the page exports, checked to be a placeholder."""
    [line] = [c for c in example.commands("dsn") if c.startswith("export")]
    dsn = line.split("=", 1)[1].strip("'")
    assert "<key>" in dsn
    return dsn


def start_worker(example: Example, tmp_path: Path, sentry: FakeSentry) -> Process:
    # The page's DSN, pointed at the stand-in.
    assert page_dsn(example).startswith("https://")
    return Process(
        example.procfile_command("worker"),
        cwd=example.path,
        env={
            example.broker.url_variable: example.broker.url,
            "SENTRY_DSN": sentry.dsn,
            **FAST_RETRIES,
        },
        log=tmp_path / "worker.log",
    )


def send(example: Example, url: str) -> str:
    """The page's send.py, for ``url``; the message id it printed."""
    [command] = example.commands("send")
    assert command.startswith("python send.py ")
    printed = subprocess.run(
        [sys.executable, "send.py", url],
        cwd=example.path,
        env={**os.environ, example.broker.url_variable: example.broker.url},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    [message_id] = re.findall(r"Queued message (\S+)\.", printed)
    return message_id


# The page's URL is the smoke test (plain nox); the server error, in
# nox -s tests, checks what the report leaves out.
@pytest.fixture(
    name="failing_url",
    params=[pytest.param("page", marks=pytest.mark.smoke), "server error"],
)
def fixture_failing_url(
    request: pytest.FixtureRequest, example: Example
) -> Iterator[str]:
    """The page's URL (nothing listens there), or a server that answers 500
    to a URL that holds a user's name and a token."""
    if request.param == "page":
        [command] = example.commands("send")
        yield command.split()[-1]
        return
    with feed_server(500) as port:
        yield f"http://127.0.0.1:{port}/u/alice/feed.xml?token=SECRET"


def test_an_import_that_always_fails_is_reported_once(
    example: Example, tmp_path: Path, sentry: FakeSentry, failing_url: str
) -> None:
    worker = start_worker(example, tmp_path, sentry)
    try:
        worker.wait_for_output("is ready for action", timeout=20)
        message_id = send(example, failing_url)
        worker.wait_for_output("Retries exceeded for message", timeout=20)
        wait_for(lambda: sentry.events, timeout=10, what="the report")
        # SIGTERM: the worker stops, and sentry-sdk sends what it still holds.
        assert worker.terminate(timeout=30) == 0
    finally:
        worker.kill_group()

    attempts = worker.output().count("Failed to process message import_feed")
    print(
        f"\n[{example.broker.label}] {attempts} failed attempts, {len(sentry.events)} event"
    )
    assert attempts == 3
    [event] = sentry.events
    assert event["tags"]["dramatiq_message_id"] == message_id
    assert "will_retry" not in event["tags"]
    assert event["transaction"] == "import_feed"
    # The URLError (or HTTPError) the actor raised, last after those it chains.
    exception = event["exception"]["values"][-1]
    assert exception["type"] in ("URLError", "HTTPError")
    assert exception["mechanism"] == {"type": "dramatiq", "handled": False}
    # The message's arguments stay out of the report, and so do locals.
    text = json.dumps(event)
    for secret in (failing_url, "alice", "SECRET"):
        assert secret not in text
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])
    # Its breadcrumbs: the last attempt's log lines, worded without the message.
    crumbs = [c.get("message") for c in event["breadcrumbs"]["values"]]
    assert crumbs == [
        "Failed to process message %s with unhandled exception.",
        "Retries exceeded for message %r.",
    ]


def test_an_import_that_works_reports_nothing(
    example: Example, tmp_path: Path, sentry: FakeSentry
) -> None:
    worker = start_worker(example, tmp_path, sentry)
    try:
        with feed_server(200) as port:
            worker.wait_for_output("is ready for action", timeout=20)
            send(example, f"http://127.0.0.1:{port}/feed.xml")
            worker.wait_for_output("Imported 11 bytes.", timeout=20)
        assert worker.terminate(timeout=30) == 0
    finally:
        worker.kill_group()

    assert sentry.events == []
