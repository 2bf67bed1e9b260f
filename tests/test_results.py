"""examples/results: task results in Redis and a status endpoint, on each broker."""

from __future__ import annotations

import ast
import re
import shlex
import sys
import time
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from support.brokers import REDIS, hung_server
from support.examples import (
    BROKER_UNAVAILABLE,
    EXAMPLES,
    Example,
    example_params,
    run_against_flask,
    with_empty_queues,
)
from support.processes import free_port, port_is_open, wait_for

QUEUE = "results"
TEN_MINUTES_MS = 10 * 60 * 1000


@pytest.fixture(params=example_params("results"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    # Both variants keep their results in Redis, the RabbitMQ one too.
    if not REDIS.is_reachable():
        pytest.fail(REDIS.unreachable_message(), pytrace=False)
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


def normalize_http(response: str) -> list[str]:
    """Blank out what changes between runs: ids, the date and the server version."""
    response = re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "ID", response)
    response = re.sub(r"^Date: .*$", "Date: DATE", response, flags=re.MULTILINE)
    response = re.sub(r"^Server: .*$", "Server: SERVER", response, flags=re.MULTILINE)
    return response.splitlines()


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


def test_status_goes_from_pending_to_done_over_http(
    example: Example, tmp_path: Path
) -> None:
    port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(port)})
    worker = None
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the Flask app")

        # The POST the guide shows answers what output.txt shows.
        [post] = example.commands("request")
        answer = run_against_flask(post, port)
        shown_answer = (example.path / "output.txt").read_text()
        assert normalize_http(answer) == normalize_http(shown_answer)
        location = re.search(r"^Location: (\S+)", answer, re.MULTILINE).group(1)

        # The GET the guide shows asks for the Location output.txt shows.
        [status] = example.commands("status")
        shown_location = re.search(r"/tasks/\S+", status).group()
        assert f"Location: {shown_location}\n" in shown_answer
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


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "Field 'x' is required."),
        ({"x": "1"}, "Field 'y' is required."),
        ({"x": "a", "y": "2"}, "Field 'x' must be a 64-bit integer, got 'a'."),
    ],
    ids=["empty", "missing-y", "letter"],
)
def test_bad_input_answers_400_and_enqueues_nothing(
    example: Example,
    monkeypatch: pytest.MonkeyPatch,
    form: dict[str, str],
    error: str,
) -> None:
    client = example.load("app", monkeypatch).app.test_client()

    response = client.post("/divide", data=form)

    assert response.status_code == 400
    assert response.get_json() == {"error": error}
    assert example.broker.pending(QUEUE) == 0


def test_post_answers_503_and_queues_nothing_when_broker_or_redis_is_down(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RabbitMQ variant: RabbitMQ or Redis may be down. Redis variant: Redis.
    for variable in sorted({example.broker.url_variable, REDIS.url_variable}):
        scheme = "amqp" if variable == "RABBITMQ_URL" else "redis"
        with monkeypatch.context() as patch:
            patch.setenv(variable, f"{scheme}://127.0.0.1:{free_port()}")
            client = example.load("app", patch).app.test_client()
            response = client.post("/divide", data={"x": "1", "y": "2"})

        assert response.status_code == 503, variable
        assert response.get_json() == BROKER_UNAVAILABLE, variable
        assert example.broker.pending(QUEUE) == 0, variable


def test_status_answers_503_when_redis_is_down(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REDIS.url_variable, f"redis://127.0.0.1:{free_port()}")
    client = example.load("app", monkeypatch).app.test_client()

    response = client.get(f"/tasks/{uuid.uuid4()}")

    assert response.status_code == 503
    assert response.get_json() == BROKER_UNAVAILABLE


def test_status_answers_503_within_2_s_when_redis_hangs(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A frozen Redis; its URL sets no timeout, so the code's 2 s applies.
    with hung_server() as port:
        monkeypatch.setenv(REDIS.url_variable, f"redis://127.0.0.1:{port}/0")
        client = example.load("app", monkeypatch).app.test_client()

        started = time.monotonic()
        response = client.get(f"/tasks/{uuid.uuid4()}")
        took = time.monotonic() - started

    assert response.status_code == 503
    assert response.get_json() == BROKER_UNAVAILABLE
    # redis-py's own default would be 5 s; older redis-py has none.
    assert 1.9 < took < 4, took


def test_procfile_is_the_one_from_the_workers_page(example: Example) -> None:
    # results.rst says so: the only difference is the broker's, in both pages.
    quickstart = EXAMPLES / "quickstart" / example.path.name / "Procfile"
    assert (example.path / "Procfile").read_text() == quickstart.read_text()


def test_start_broker_commands_publish_on_loopback_and_start_redis(
    example: Example,
) -> None:
    commands = example.commands("start-broker")
    # Both variants keep their results in Redis, the RabbitMQ one too.
    names = {"rabbitmq": ["rabbitmq", "redis"], "redis": ["redis"]}
    assert [shlex.split(c)[4] for c in commands] == names[example.broker.name]
    for command in commands:
        # On loopback only: a broker open to the network is open to anyone.
        assert re.search(r"--publish 127\.0\.0\.1:(\d+):\1 ", command), command


def test_requirements_install_every_package_the_code_imports(
    example: Example,
) -> None:
    # The RabbitMQ variant imports redis too: its requirements must say so.
    installed = required_distributions(example.path / "requirements.txt")
    owners = metadata.packages_distributions()
    local = {path.stem for path in example.path.glob("*.py")}
    for path in sorted(example.path.glob("*.py")):
        for module in sorted(top_level_imports(path) - local):
            if module in sys.stdlib_module_names:
                continue
            providers = {canonicalize_name(d) for d in owners.get(module, [])}
            assert providers & installed, (
                f"{path.name} imports {module}, which requirements.txt does not "
                f"install (installs: {sorted(installed)})"
            )


def required_distributions(requirements: Path) -> set[str]:
    """Every distribution ``pip install -r requirements`` installs, dependencies too."""
    todo = [Requirement(line) for line in requirements.read_text().splitlines()]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        for line in metadata.requires(requirement.name) or []:
            dependency = Requirement(line)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(
                dependency.marker.evaluate({"extra": extra}) for extra in extras
            ):
                todo.append(dependency)
    return {name for name, _ in seen}


def top_level_imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.partition(".")[0])
    return modules
