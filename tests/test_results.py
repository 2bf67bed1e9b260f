"""docs/results.rst and docs/task_status.rst: a task's state and result over
HTTP, from pending to done or failed, kept ten minutes, and 404 for an id the
app cannot know.

Sections "Store results in Redis" to "Run it", on each broker.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from support.examples import (
    Example,
    location_header,
    run_against_flask,
)
from support.output import check_shown_output
from support.processes import free_port, port_is_open, wait_for
from support.results import QUEUE, fixture_example  # noqa: F401  (the fixture "example")

TEN_MINUTES_MS = 10 * 60 * 1000


def wait_until_finished(client, location: str) -> dict:
    wait_for(
        lambda: client.get(location).get_json()["state"] != "pending",
        timeout=20,
        what=f"GET {location} to leave 'pending'",
    )
    return client.get(location).get_json()


def assert_id_and_result_expire_in_ten_minutes(message_id: str) -> None:
    """The task has ended: its result and its record both expire ten minutes on."""
    tasks = sys.modules["tasks"]
    message = tasks.divide.message().copy(message_id=message_id)
    result_key = tasks.result_backend.build_message_key(message)
    for key in (result_key, tasks.record_key(message_id)):
        ttl = tasks.results_redis.pttl(key)
        assert TEN_MINUTES_MS - 30_000 < ttl <= TEN_MINUTES_MS, key


@pytest.mark.smoke
def test_status_goes_from_pending_to_done_over_http(
    example: Example, tmp_path: Path
) -> None:
    port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(port)})
    worker = None
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the Flask app")

        # The POST the guide shows answers what output.txt shows, with the
        # task id the GET of the guide asks for.
        [post] = example.commands("request")
        answer = run_against_flask(post, port)
        location = location_header(answer)
        [status] = example.commands("status")
        shown_location = re.search(r"/tasks/\S+", status).group()
        check_shown_output(
            example.path / "output.txt",
            answer,
            paths={
                location.removeprefix("/tasks/"): shown_location.removeprefix("/tasks/")
            },
        )
        assert (
            f"Location: {shown_location}\n" in (example.path / "output.txt").read_text()
        )
        status = status.replace(shown_location, location)

        # No worker yet: the task waits in the queue.
        pending = (example.path / "pending.txt").read_text()
        assert run_against_flask(status, port) == pending

        worker = example.start("worker", tmp_path)
        wait_for(
            lambda: run_against_flask(status, port) != pending,
            timeout=20,
            what="the task to leave 'pending'",
        )
        assert (
            run_against_flask(status, port) == (example.path / "done.txt").read_text()
        )
    finally:
        web.kill_group()
        if worker is not None:
            worker.kill_group()


def test_post_answers_202_with_the_location_of_a_pending_task(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = example.load("app", monkeypatch).app.test_client()

    response = client.post("/divide", data={"x": "1", "y": "2"})

    assert response.status_code == 202
    message_id = response.get_json()["message_id"]
    assert response.headers["Location"] == f"/tasks/{message_id}"
    assert example.broker.pending(QUEUE) == 1
    status = client.get(response.headers["Location"])
    assert status.status_code == 200
    assert status.get_json() == {"state": "pending", "result": None}


def test_failing_task_reports_failed_with_the_error(
    example: Example, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client = example.load("app", monkeypatch).app.test_client()
    worker = example.start("worker", tmp_path)
    try:
        response = client.post("/divide", data={"x": "1", "y": "0"})
        message_id = response.get_json()["message_id"]
        assert response.status_code == 202

        # Within the deadline only because max_retries=0: no retry backoff.
        status = wait_until_finished(client, response.headers["Location"])
        # The exception's message stays in the worker's log.
        worker.wait_for_output("ZeroDivisionError: division by zero", timeout=10)
    finally:
        worker.kill_group()

    # The type only: an exception's message can carry data the client must
    # not see.
    assert status == {"state": "failed", "result": None, "error": "ZeroDivisionError"}
    assert example.broker.dead(QUEUE) == 1
    assert_id_and_result_expire_in_ten_minutes(message_id)


def test_result_and_task_id_are_kept_for_ten_minutes_after_the_task_ends(
    example: Example, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app_module = example.load("app", monkeypatch)
    client = app_module.app.test_client()
    tasks = sys.modules["tasks"]
    response = client.post("/divide", data={"x": "6", "y": "3"})
    message_id = response.get_json()["message_id"]
    record = tasks.record_key(message_id)
    # Queued: the id is kept for the longest wait, run and result.
    hour_and_twenty_minutes = 80 * 60 * 1000
    assert hour_and_twenty_minutes - 30_000 < tasks.results_redis.pttl(record)

    worker = example.start("worker", tmp_path)
    try:
        status = wait_until_finished(client, response.headers["Location"])
    finally:
        worker.kill_group()
    assert status == {"state": "done", "result": 2.0}

    assert_id_and_result_expire_in_ten_minutes(message_id)


def enqueue_as_if_sent_earlier(tasks: ModuleType, app: ModuleType, ago_ms: int) -> str:
    """Queue 1/4 the way the view does, as if ``ago_ms`` ago; return the message id.

    The message carries the old timestamp, and its record has aged as long.
    """
    now_ms = int(time.time() * 1000)
    message = tasks.divide.message(1, 4).copy(message_timestamp=now_ms - ago_ms)
    app.remember_task(message)
    record = tasks.record_key(message.message_id)
    left = tasks.results_redis.pttl(record) - ago_ms
    assert left > 0, "the record would be gone already"
    tasks.results_redis.pexpire(record, left)
    tasks.broker.enqueue(message)
    return message.message_id


def test_task_queued_longer_than_the_result_ttl_reads_pending_then_done(
    example: Example, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = example.load("app", monkeypatch)
    tasks = sys.modules["tasks"]
    client = app.app.test_client()
    # As if the worker had been down for 11 minutes: longer than a result lives.
    message_id = enqueue_as_if_sent_earlier(tasks, app, TEN_MINUTES_MS + 60_000)
    location = f"/tasks/{message_id}"
    assert client.get(location).get_json() == {"state": "pending", "result": None}

    worker = example.start("worker", tmp_path)
    try:
        status = wait_until_finished(client, location)
    finally:
        worker.kill_group()

    assert status == {"state": "done", "result": 0.25}
    assert_id_and_result_expire_in_ten_minutes(message_id)


def test_task_queued_longer_than_max_age_never_runs_and_reads_failed(
    example: Example, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = example.load("app", monkeypatch)
    tasks = sys.modules["tasks"]
    client = app.app.test_client()
    assert tasks.MAX_AGE_MS == 60 * 60 * 1000
    message_id = enqueue_as_if_sent_earlier(tasks, app, tasks.MAX_AGE_MS + 1000)

    worker = example.start("worker", tmp_path)
    try:
        status = wait_until_finished(client, f"/tasks/{message_id}")
        worker.wait_for_output("has exceeded its age limit", timeout=10)
    finally:
        worker.kill_group()

    # The worker skipped the message: Dramatiq stores the SkipMessage it raised.
    assert status == {"state": "failed", "result": None, "error": "SkipMessage"}
    assert example.broker.dead(QUEUE) == 1
    assert_id_and_result_expire_in_ten_minutes(message_id)


UNKNOWN_ID = "a8098c1a-f86e-11da-bd1a-00112444be1e"


@pytest.mark.parametrize(
    ("task_id", "error"),
    [
        ("abc", "No task with id 'abc': task ids are UUIDs."),
        (
            f"{{{UNKNOWN_ID}}}",
            f"No task with id '{{{UNKNOWN_ID}}}': task ids are UUIDs.",
        ),
        (f"{UNKNOWN_ID}-", f"No task with id '{UNKNOWN_ID}-': task ids are UUIDs."),
        (
            UNKNOWN_ID.upper(),
            f"No task with id '{UNKNOWN_ID.upper()}': task ids are UUIDs.",
        ),
        (
            UNKNOWN_ID,
            f"No task with id '{UNKNOWN_ID}', or its result has expired.",
        ),
    ],
    ids=["letters", "braces", "trailing-dash", "uppercase", "unknown"],
)
def test_malformed_or_unknown_id_answers_404(
    example: Example, monkeypatch: pytest.MonkeyPatch, task_id: str, error: str
) -> None:
    client = example.load("app", monkeypatch).app.test_client()

    response = client.get(f"/tasks/{task_id}")

    assert response.status_code == 404
    assert response.get_json() == {"error": error}


def test_task_of_an_actor_the_app_no_longer_has_answers_404(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A task queued before a deploy that renamed its actor.
    app_module = example.load("app", monkeypatch)
    task_id = str(uuid.uuid4())
    tasks = sys.modules["tasks"]
    tasks.results_redis.set(tasks.record_key(task_id), "old_name", px=60_000)
    try:
        response = app_module.app.test_client().get(f"/tasks/{task_id}")
    finally:
        tasks.results_redis.delete(tasks.record_key(task_id))

    assert response.status_code == 404
    assert response.get_json() == {
        "error": f"Task {task_id!r} ran an actor this app no longer has."
    }
