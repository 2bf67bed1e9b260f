"""docs/groups.rst: a job of several counts run side by side, joined by a
completion callback, its status over HTTP, and the deadlock of an actor that
waits for its own group, on each broker.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dramatiq import group, pipeline

from support.examples import (
    Example,
    example_params,
    location_header,
    run_against_flask,
    with_redis_and_empty_queues,
)
from support.output import check_shown_output
from support.processes import Process, wait_for

QUEUE = "groups"


@pytest.fixture(name="example", params=example_params("groups"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    # Both variants keep results and the groups' counters in Redis.
    yield from with_redis_and_empty_queues(Example(request.param), queues=(QUEUE,))


def start_single_threaded_worker(example: Example, module: str, log: Path) -> Process:
    """A worker with one thread: the page's deadlock command, for ``module``."""
    [command] = example.commands("deadlock")
    assert command.endswith("dramatiq waiting --processes 1 --threads 1")
    return Process(
        command.replace("dramatiq waiting", f"dramatiq {module}"),
        cwd=example.path,
        env={example.broker.url_variable: example.broker.url},
        log=log,
    )


@pytest.mark.smoke
def test_job_goes_from_pending_to_done_over_http(
    example: Example, tmp_path: Path
) -> None:
    worker = None
    with example.web_server(tmp_path) as port:
        try:
            # The page's POST answers what output.txt shows, with the location
            # the page's GET asks for.
            [post] = example.commands("request")
            answer = run_against_flask(post, port)
            location = location_header(answer)
            [status] = example.commands("status")
            shown_location = re.search(r"/jobs/\S+", status).group()
            check_shown_output(
                example.path / "output.txt",
                answer,
                paths={
                    location.removeprefix("/jobs/"): shown_location.removeprefix(
                        "/jobs/"
                    )
                },
            )
            status = status.replace(shown_location, location)

            # No worker yet: nothing is counted.
            check_shown_output(
                example.path / "pending.txt", run_against_flask(status, port)
            )

            worker = example.start("worker", tmp_path)
            wait_for(
                lambda: '"state":"done"' in run_against_flask(status, port),
                timeout=20,
                what="the job to be done",
            )
            check_shown_output(
                example.path / "done.txt", run_against_flask(status, port)
            )
        finally:
            if worker is not None:
                worker.kill_group()
    # add_up ran once, after every count was stored: no retry, no error.
    assert "Retrying message" not in worker.output()
    assert "[ERROR]" not in worker.output()


def test_a_job_finishes_on_one_thread_and_a_failed_count_fails_it(
    example: Example, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The callback needs no waiting thread: one worker thread runs the job
    the page's view starts. A step that fails for good makes its job
    "failed", not "pending" for ever."""
    app_module = example.load("app", monkeypatch)
    client = app_module.app.test_client()
    tasks = sys.modules["tasks"]
    worker = start_single_threaded_worker(example, "tasks", tmp_path / "worker.log")
    try:
        documents = {"document": ["one", "<b>two</b> words", "and<br>three words"]}
        location = client.post("/jobs", data=documents).headers["Location"]

        # A job of the app's making whose one document fails its first step
        # at once: its count never runs.
        failing = tasks.strip_tags.message_with_options(args=(None,), max_retries=0)
        steps = pipeline([failing, tasks.count_words.message()])
        step_ids = [[message.message_id for message in steps.messages]]
        job = tasks.add_up.message([step_ids[0][1]])
        record = {"steps": step_ids, "deadline": time.time() + 60}
        tasks.results_redis.set(app_module.job_key(job.message_id), json.dumps(record))
        failing_group = group([steps])
        failing_group.add_completion_callback(job)
        failing_group.run()

        def state(url: str) -> dict:
            return client.get(url).get_json()

        wait_for(lambda: state(location)["state"] == "done", timeout=20, what="the job")
        failed_url = f"/jobs/{job.message_id}"
        wait_for(
            lambda: state(failed_url)["state"] != "pending",
            timeout=20,
            what="the failing job",
        )
    finally:
        worker.kill_group()
    assert state(location) == {"state": "done", "counted": 3, "of": 3, "words": 6}
    assert state(failed_url) == {"state": "failed", "error": "TypeError"}


def test_an_actor_waiting_for_its_group_holds_its_thread_until_the_timeout(
    example: Example, tmp_path: Path
) -> None:
    """The page's deadlock: with one thread, the waiting actor holds it; its
    counts can run only once its wait has timed out."""
    worker = start_single_threaded_worker(example, "waiting", tmp_path / "worker.log")
    try:
        worker.wait_for_output("is ready for action", timeout=20)
        [send] = example.commands("send-waiting")
        sent = time.monotonic()
        subprocess.run(
            shlex.split(send),
            cwd=example.path,
            env={**os.environ, example.broker.url_variable: example.broker.url},
            check=True,
            timeout=30,
        )
        worker.wait_for_output("redis.exceptions.TimeoutError", timeout=20)
        waited = time.monotonic() - sent
    finally:
        worker.kill_group()
    # The result store's 2 s socket timeout, all of it spent waiting for
    # counts that the only thread could not run.
    assert 2 <= waited < 10, waited


def test_a_job_past_its_deadline_without_a_result_reads_stalled(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result lost on the way (a Redis failure while a step ended) leaves
    a job that will never finish: past its deadline it reads "stalled"."""
    app_module = example.load("app", monkeypatch)
    client = app_module.app.test_client()
    job_id, strip_id, count_id = (str(uuid.uuid4()) for _ in range(3))
    for deadline, state in (
        (time.time() + 60, "pending"),
        (time.time() - 1, "stalled"),
    ):
        record = {"steps": [[strip_id, count_id]], "deadline": deadline}
        app_module.results_redis.set(app_module.job_key(job_id), json.dumps(record))
        answer = client.get(f"/jobs/{job_id}").get_json()
        assert answer == {"state": state, "counted": 0, "of": 1, "words": None}
    app_module.results_redis.delete(app_module.job_key(job_id))


def test_results_are_stored_before_the_group_counts_a_member_done(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dramatiq runs after-hooks in reverse order: GroupCallbacks must come
    before Results, or add_up could be queued before the last count is
    stored (and fail, as it did in this guide's first draft)."""
    example.load("app", monkeypatch)
    middleware = [type(m).__name__ for m in sys.modules["tasks"].broker.middleware]
    assert middleware.index("GroupCallbacks") < middleware.index("Results")
