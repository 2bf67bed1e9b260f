"""examples/quickstart: the five sections of the guide, run for real on each broker."""

from __future__ import annotations

import http.client
import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.examples import (
    Example,
    assert_requirements_installed,
    example_params,
    run_against_flask,
    with_empty_queues,
)
from support.output import check_shown_output
from support.processes import (
    broker_connections,
    free_port,
    open_files,
    port_is_open,
    rerun_until,
    wait_for,
)

QUEUE = "default"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(params=example_params("quickstart"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.mark.smoke
def test_post_returns_202_and_worker_prints_the_sum(
    example: Example, tmp_path: Path
) -> None:
    worker = example.start("worker", tmp_path)
    port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(port)})
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the Flask app")

        [curl] = example.commands("request")
        answer = run_against_flask(curl, port)
        assert json.loads(answer)["message_id"]

        worker.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)
        assert worker.terminate(timeout=15) == 0
    finally:
        web.kill_group()
        worker.kill_group()

    check_shown_output(example.path / "output.txt", worker.output())


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "Field 'x' is required."),
        ({"x": "1"}, "Field 'y' is required."),
        ({"x": " ", "y": "2"}, "Field 'x' is required."),
        ({"x": "a", "y": "2"}, "Field 'x' must be a 64-bit integer, got 'a'."),
        ({"x": "1", "y": "2.5"}, "Field 'y' must be a 64-bit integer, got '2.5'."),
    ],
    ids=["empty", "missing-y", "blank-x", "letter", "float"],
)
def test_bad_input_answers_400_and_enqueues_nothing(
    example: Example,
    monkeypatch: pytest.MonkeyPatch,
    form: dict[str, str],
    error: str,
) -> None:
    app = example.load("app", monkeypatch).app

    response = app.test_client().post("/add", data=form)

    assert response.status_code == 400
    assert response.get_json() == {"error": error}
    assert example.broker.pending(QUEUE) == 0


def test_web_command_holds_its_broker_connections_over_1000_requests(
    example: Example, tmp_path: Path
) -> None:
    """The Procfile's `flask run` opens no connection per request.

    Flask's threaded server runs each request on a new thread, and
    Dramatiq's RabbitMQ broker keeps one connection per thread, never
    closed: +1 connection and +4 file descriptors per request, until the
    process runs out of them.
    """
    port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(port)})
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the Flask app")
        # One keep-alive connection: the count is the app's, not the client's.
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        counts = []
        for sent in range(1, 1001):
            client.request("POST", "/add", body="x=1&y=2", headers=FORM_HEADERS)
            response = client.getresponse()
            response.read()
            assert response.status == 202, sent
            if sent in (10, 1000):
                pgid = web.popen.pid
                connections = broker_connections(pgid, example.broker.address[1])
                counts.append((connections, open_files(pgid)))
        client.close()
    finally:
        web.kill_group()
    print(f"{example.broker.name}: (connections, open files) {counts}")
    (after_10, files_after_10), (after_1000, files_after_1000) = counts
    assert after_10 == after_1000 == 1
    assert files_after_1000 <= files_after_10 + 4


def test_requirements_shown_in_install_are_installed(example: Example) -> None:
    [install] = [c for c in example.commands("install") if "pip install" in c]
    assert_requirements_installed(example.path / shlex.split(install)[-1])


def test_start_broker_command_publishes_the_default_port_on_loopback(
    example: Example,
) -> None:
    [command] = example.commands("start-broker")
    port = example.broker.default_port
    # On loopback only: a broker open to the network is open to anyone.
    assert f"--publish 127.0.0.1:{port}:{port}" in command
    # ... the port the example connects to when no URL is set.
    default = f'os.environ.get("{example.broker.url_variable}", '
    tasks = (example.path / "tasks.py").read_text()
    assert re.search(rf"{re.escape(default)}\"\w+://127\.0\.0\.1:{port}[/\"]", tasks)


def test_path_before_the_module_swallows_the_module(example: Example) -> None:
    # workers.rst warns about this: --path takes several values.
    result = subprocess.run(
        ["dramatiq", "--path", ".", "tasks"],
        check=False,
        cwd=example.path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "the following arguments are required: broker, module" in result.stderr


def test_run_it_shows_the_procfile_commands(example: Example) -> None:
    """Workers' "Run it" shows the two commands to type: the Procfile's lines,
    which the tests above run."""
    for process_type in ("worker", "web"):
        shown = example.commands(process_type)
        assert shown == [example.procfile_command(process_type)], process_type


def test_worker_started_from_another_folder_names_the_missing_module(
    example: Example,
) -> None:
    # workers.rst: run the commands from the project folder, or this. Some
    # runs lose the worker's last lines (seen in CI: exit 2, empty stderr),
    # and the page says so. Every run must exit 2; one must name the module.
    def run() -> str:
        result = subprocess.run(
            shlex.split(example.procfile_command("worker")),
            check=False,
            cwd=example.path.parent,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2, result.stderr
        return result.stderr

    rerun_until(
        run, lambda stderr: "ModuleNotFoundError: No module named 'tasks'" in stderr
    )
