"""examples/factory: a create_app() package whose actors run in an app context."""

from __future__ import annotations

import importlib
import json
import shlex
import socket
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.examples import (
    Example,
    example_params,
    run_against_flask,
    with_empty_queues,
)
from support.output import check_shown_output
from support.processes import Process, free_port, port_is_open, wait_for

QUEUE = "factory"


@pytest.fixture(params=example_params("factory"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


def exported(example: Example, section: str) -> dict[str, str]:
    """The variables that the ``export NAME=value`` lines of a section set."""
    variables = {}
    for line in example.commands(section):
        command, assignment = shlex.split(line)
        assert command == "export", line
        name, _, value = assignment.partition("=")
        variables[name] = value
    return variables


@pytest.mark.smoke
def test_worker_prints_the_site_name_from_the_apps_config(
    example: Example, tmp_path: Path
) -> None:
    # The site name reaches the actor only through current_app.config, which
    # create_app() fills from FLASK_SITE_NAME in the worker's environment.
    config = exported(example, "config")
    assert config == {"FLASK_SITE_NAME": "Dramatiq Shop"}
    worker = example.start("worker", tmp_path, env=config)
    port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(port)})
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the Flask app")

        [curl] = example.commands("request")
        answer = run_against_flask(curl, port)
        assert json.loads(answer)["message_id"]

        worker.wait_for_output("Welcome to Dramatiq Shop, 'Ada'!", timeout=20)
        assert worker.terminate(timeout=15) == 0
    finally:
        web.kill_group()
        worker.kill_group()

    check_shown_output(example.path / "output.txt", worker.output())


# A worker module for the next test only. Loaded after myapp.worker, it wraps
# the example's middleware in two probes and declares an actor that checks
# what it sees. Every line it prints names the message it is about.
PROBE = r'''
import sys
import threading
import time

import dramatiq
from dramatiq.middleware import SkipMessage
from flask import current_app, g, has_app_context

from myapp.broker import broker
from myapp.middleware import AppContextMiddleware
from myapp.worker import app


def say(line):
    # One write per line: print() writes the newline separately, and the
    # lines of concurrent threads would run together.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Outside(dramatiq.Middleware):
    """Runs before the app context is pushed and after it is popped."""

    def before_process_message(self, broker, message):
        say(f"before {message.args[0]}: context={has_app_context()}")

    def after_process_message(self, broker, message, *, result=None, exception=None):
        say(f"after {message.args[0]}: context={has_app_context()}")

    def after_skip_message(self, broker, message):
        say(f"after {message.args[0]}: context={has_app_context()}")


class SkipWhenAsked(dramatiq.Middleware):
    """Runs inside the app context, and skips the messages sent with skip=True."""

    def before_process_message(self, broker, message):
        if message.kwargs.get("skip"):
            g.probe = message.args[0]
            raise SkipMessage()


broker.add_middleware(Outside(), before=AppContextMiddleware)
broker.add_middleware(SkipWhenAsked(), after=AppContextMiddleware)


@app.teardown_appcontext
def report_teardown(exception):
    say(f"teardown {g.get('probe')}: exception={exception!r}")


@dramatiq.actor(
    broker=broker, queue_name="factory", actor_name="factory_probe", max_retries=0
)
def probe(n, skip=False, fail=False):
    fresh = "probe" not in g
    g.probe = n
    time.sleep(0.2)  # Let the other threads take messages meanwhile.
    say(
        f"probe {n}: fresh={fresh} mine={g.probe == n} "
        f"app={current_app._get_current_object() is app} "
        f"thread={threading.current_thread().name}"
    )
    if fail:
        raise ValueError(f"probe {n} failed")
'''


def test_each_message_gets_its_own_app_context_popped_after_it(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "factory_probe.py").write_text(textwrap.dedent(PROBE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "factory_probe", raising=False)
    example.load("myapp", monkeypatch)
    probe = importlib.import_module("factory_probe").probe
    # The Procfile's worker plus the probe module, in one process with four
    # threads, so messages overlap and threads take turns.
    command = (
        f"{example.procfile_command('worker')} factory_probe --processes 1 --threads 4"
    )
    worker = Process(
        command,
        cwd=example.path,
        env={
            example.broker.url_variable: example.broker.url,
            "PYTHONPATH": str(tmp_path),
        },
        log=tmp_path / "probe-worker.log",
    )
    numbers = range(16)
    skipped = {n for n in numbers if n % 4 == 3}
    failed = {n for n in numbers if n % 4 == 2}
    try:
        for n in numbers:
            probe.send(n, skip=n in skipped, fail=n in failed)
        wait_for(
            lambda: (
                all(f"after {n}:" in worker.output() for n in numbers)
                or worker.popen.poll() is not None
            ),
            timeout=30,
            what="the worker to process every probe message",
        )
        assert worker.terminate(timeout=15) == 0
    finally:
        worker.kill_group()

    output = worker.output()
    lines = set(output.splitlines())
    for n in numbers:
        # No context left over from an earlier message, none left after this one.
        assert f"before {n}: context=False" in lines, output
        assert f"after {n}: context=False" in lines, output
        # Popping ran the teardown functions once, skipped messages included,
        # and handed them the actor's exception.
        error = f"ValueError('probe {n} failed')" if n in failed else "None"
        assert output.count(f"teardown {n}: exception={error}") == 1, output
    ran = [line for line in output.splitlines() if line.startswith("probe ")]
    assert len(ran) == len(numbers) - len(skipped), output
    assert all("fresh=True mine=True app=True" in line for line in ran), output
    threads = {line.rpartition("thread=")[2] for line in ran}
    assert len(threads) > 1, f"the messages did not overlap: {output}"
    assert "Unexpected failure" not in output


class Listener:
    """A TCP server that counts the connections made to it and closes them."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return  # close() was called.
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self.thread.join(timeout=5)


def test_importing_the_package_and_the_worker_module_connects_to_nothing(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener = Listener()
    scheme = "amqp" if example.broker.name == "rabbitmq" else "redis"
    url = f"{scheme}://127.0.0.1:{listener.port}"
    monkeypatch.setenv(example.broker.url_variable, url)
    try:
        myapp = example.load("myapp", monkeypatch)
        myapp.create_app()
        importlib.import_module("myapp.worker")
    finally:
        listener.close()
    assert listener.connections == 0


def test_actors_and_the_worker_share_the_packages_broker(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Import the actors first, as a shell or a test would, then the worker.
    tasks = example.load("myapp.tasks", monkeypatch)
    broker = importlib.import_module("myapp.broker").broker
    importlib.import_module("myapp.worker")

    assert tasks.welcome.broker is broker
    # The dramatiq command runs the global broker.
    assert importlib.import_module("dramatiq").get_broker() is broker
    added = [type(m).__name__ for m in broker.middleware].count("AppContextMiddleware")
    assert added == 1


NOT_PRINTABLE = "Field 'username' must be at most 64 printable characters."


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "Field 'username' is required."),
        ({"username": "  "}, "Field 'username' is required."),
        ({"username": "Ada\r\nINFO forged"}, NOT_PRINTABLE),
        ({"username": "\x1b[2JAda"}, NOT_PRINTABLE),
        ({"username": "A" * 65}, NOT_PRINTABLE),
    ],
    ids=["missing", "blank", "line-break", "terminal-escape", "too-long"],
)
def test_bad_input_answers_400_and_enqueues_nothing(
    example: Example,
    monkeypatch: pytest.MonkeyPatch,
    form: dict[str, str],
    error: str,
) -> None:
    app = example.load("myapp", monkeypatch).create_app()

    response = app.test_client().post("/welcome", data=form)

    assert response.status_code == 400
    assert response.get_json() == {"error": error}
    assert example.broker.pending(QUEUE) == 0


def test_worker_prints_an_untrusted_name_escaped_on_one_line(
    example: Example, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # A message that did not come through the view, e.g. from another app.
    monkeypatch.delenv("FLASK_SITE_NAME", raising=False)
    myapp = example.load("myapp", monkeypatch)
    welcome = sys.modules["myapp.tasks"].welcome

    with myapp.create_app().app_context():
        welcome.fn("Eve\r\n[INFO] forged\x1b[2J")

    assert capsys.readouterr().out == (
        "Welcome to My site, 'Eve\\r\\n[INFO] forged\\x1b[2J'!\n"
    )


def test_test_config_overrides_the_environment(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_SITE_NAME", "From the environment")
    create_app = example.load("myapp", monkeypatch).create_app

    assert create_app().config["SITE_NAME"] == "From the environment"
    assert create_app({"SITE_NAME": "Test"}).config["SITE_NAME"] == "Test"
