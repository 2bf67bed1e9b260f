"""docs/integrations.rst, "Flask-Dramatiq": its quickstart on Dramatiq 2, for real.

The page's `flask --app app worker` and `flask run` serve the quickstart's
request on each broker, and so does `dramatiq app:broker`. The extension
pushes an app context around each message, and leaves Dramatiq's global
broker alone: app.py sets it.
Its broker is built before the worker forks: on Python 3.13.0 to 3.13.3,
Dramatiq's time limits then stop working, while the guide's own `dramatiq
tasks`, and `dramatiq app:broker` on the extension's broker, keep them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dramatiq
import pytest

from support.examples import (
    EXAMPLES,
    Example,
    assert_requirements_installed,
    example_params,
    run_against_flask,
    with_empty_queues,
)
from support.output import check_shown_output
from support.processes import Process, wait_for
from support.pythons import find_python

QUEUE = "default"
PAGE = Path(__file__).resolve().parents[1] / "docs" / "integrations.rst"
# The Pythons that refuse to start, after a fork, a thread made before it
# (CPython issue 134381, fixed in 3.13.4).
FORK_BUG = ((3, 13, 0), (3, 13, 4))
# An actor that runs past its time limit: it prints "finished" only when the
# limit was not enforced. Each worker of run_slow_actor() gets it on a queue of
# its own, so that several can run at once.
WORKERS = ("flask_dramatiq", "dramatiq_app", "dramatiq")
SLOW_ACTOR = """
    @{decorator}(time_limit=500, max_retries=0, queue_name="{queue}")
    def slow() -> None:
        time.sleep(3)
        print("slow() finished: no time limit")
"""


@pytest.fixture(params=example_params("flask_dramatiq"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    slow_queues = tuple(f"slow_{worker}" for worker in WORKERS)
    yield from with_empty_queues(Example(request.param), queues=(QUEUE, *slow_queues))


def test_requirements_shown_are_installed(example: Example) -> None:
    assert_requirements_installed(example.path / "requirements.txt")


def test_the_page_names_the_release_the_requirements_pin(example: Example) -> None:
    [pin] = re.findall(
        r"flask-dramatiq==(\S+)", (example.path / "requirements.txt").read_text()
    )
    assert f"Flask-Dramatiq {pin}" in PAGE.read_text()


# --- Run the quickstart with it ----------------------------------------------


def test_the_page_shows_the_procfile_commands(example: Example) -> None:
    for process_type in ("worker", "web"):
        shown = example.commands(process_type)
        assert shown == [example.procfile_command(process_type)], process_type


def serve_the_request(example: Example, worker: Process, tmp_path: Path) -> str:
    """Send the page's request through the app; the worker's output once it
    printed the sum and stopped on SIGTERM."""
    try:
        with example.web_server(tmp_path) as port:
            [curl] = example.commands("request")
            assert json.loads(run_against_flask(curl, port))["message_id"]
            worker.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)
        assert worker.terminate(timeout=15) == 0
    finally:
        worker.kill_group()
    return worker.output()


@pytest.mark.smoke
def test_flask_worker_runs_the_message_the_view_queues(
    example: Example, tmp_path: Path
) -> None:
    output = serve_the_request(example, example.start("worker", tmp_path), tmp_path)
    if has_fork_bug(sys.version_info[:3]):
        # What the page warns of: each worker process's time limits fail
        # to start, and the run prints their errors too.
        assert "RuntimeError: thread already started" in output
    else:
        check_shown_output(example.path / "output.txt", output)


def test_dramatiqs_own_command_runs_the_extensions_broker(
    example: Example, tmp_path: Path
) -> None:
    """The command the page recommends, on the Python that runs the tests."""
    [command] = example.commands("worker-dramatiq")
    worker = Process(
        command,
        cwd=example.path,
        env={example.broker.url_variable: example.broker.url},
        log=tmp_path / "worker.log",
    )
    output = serve_the_request(example, worker, tmp_path)
    assert "Error" not in output, output


def test_the_extension_gives_each_message_an_app_context(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_dramatiq import AppContextMiddleware

    app = example.load("app", monkeypatch)
    assert app.broker is app.jobs.broker
    # Once a test of this process has loaded examples/error_reports, Sentry's
    # Dramatiq integration puts its middleware first on every broker made
    # after (it patches Broker.__init__ for the whole process).
    middleware = [
        each
        for each in app.jobs.broker.middleware
        if not type(each).__module__.startswith("sentry_sdk.")
    ]
    first = middleware[0]
    assert isinstance(first, AppContextMiddleware)
    assert first.app is app.app
    assert app.add.actor.broker is app.jobs.broker
    # The page: no Prometheus middleware unless you add it.
    names = [type(middleware).__name__ for middleware in app.jobs.broker.middleware]
    assert "Prometheus" not in names, names


@pytest.mark.parametrize(
    "example",
    [param for param in example_params("flask_dramatiq") if param.id == "redis"],
    indirect=True,
)
def test_a_redis_url_alone_gives_a_client_without_timeouts(example: Example) -> None:
    """Why the Redis app hands the broker a client: the page's claim."""
    from flask import Flask
    from flask_dramatiq import Dramatiq

    app = Flask(__name__)
    app.config["DRAMATIQ_BROKER"] = "dramatiq.brokers.redis:RedisBroker"
    app.config["DRAMATIQ_BROKER_URL"] = example.broker.url
    kwargs = Dramatiq(app).broker.client.connection_pool.connection_kwargs
    assert kwargs.get("socket_timeout") is None
    assert kwargs.get("socket_connect_timeout") is None


def test_flask_worker_takes_only_some_of_dramatiqs_options(example: Example) -> None:
    shown = subprocess.run(
        ["flask", "--app", "app", "worker", "--help"],
        cwd=example.path,
        env={**os.environ, example.broker.url_variable: example.broker.url},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    for option in ("--processes", "--threads", "--queues"):
        assert option in shown
    assert "--worker-shutdown-timeout" not in shown


def test_app_py_makes_the_extensions_broker_the_global_one(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page: the extension alone leaves the global broker as it was."""
    from flask import Flask
    from flask_dramatiq import Dramatiq

    before = dramatiq.get_broker()
    bare = Flask(__name__)
    bare.config["DRAMATIQ_BROKER"] = "dramatiq.brokers.stub:StubBroker"
    assert Dramatiq(bare).broker is not before
    assert dramatiq.get_broker() is before

    app = example.load("app", monkeypatch)
    assert dramatiq.get_broker() is app.jobs.broker is app.broker
    assert dramatiq.group([app.add.message(1, 2)]).broker is app.jobs.broker


# --- Time limits and Python 3.13 ---------------------------------------------


@pytest.fixture(scope="module")
def python_3_13(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv on Python 3.13 with the example's requirements (both
    brokers' extras: they differ in the extra only)."""
    python = find_python("3.13")
    if python is None:
        pytest.skip("Python 3.13 is not installed here (pyenv or python3.13 on PATH)")
    venv = tmp_path_factory.mktemp("py313") / "venv"
    subprocess.run(["uv", "venv", "-q", "--python", python, str(venv)], check=True)
    requirements = [
        f"-r{EXAMPLES / 'flask_dramatiq' / broker / 'requirements.txt'}"
        for broker in ("rabbitmq", "redis")
    ]
    subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            *requirements,
        ],
        check=True,
        timeout=300,
    )
    return venv / "bin"


def run_slow_actor(example: Example, tmp_path: Path, worker: str, python: str) -> str:
    """Start ``worker`` ("flask_dramatiq", the page's recommended
    "dramatiq_app", or the guide's "dramatiq") with ``python``'s virtualenv, on
    a module that adds SLOW_ACTOR to the example; send slow(); return the
    worker's output once slow() has ended."""
    if worker == "flask_dramatiq":
        imports, decorator = "from app import app, jobs", "jobs.actor"
        command = "flask --app slow worker --processes 1 --threads 1"
        folder = example.path
    elif worker == "dramatiq_app":
        imports, decorator = "from app import broker, jobs", "jobs.actor"
        [shown] = example.commands("worker-dramatiq")
        assert shown.endswith(" app:broker"), shown
        command = "dramatiq slow:broker --processes 1 --threads 1"
        folder = example.path
    else:
        imports, decorator = "import dramatiq\nimport tasks", "dramatiq.actor"
        command = "dramatiq slow --processes 1 --threads 1"
        folder = EXAMPLES / "quickstart" / example.broker.name
    actor = textwrap.dedent(
        SLOW_ACTOR.format(decorator=decorator, queue=f"slow_{worker}")
    )
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "slow.py").write_text(f"import time\n\n{imports}\n{actor}")
    env = {
        "PATH": f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{folder}",
        example.broker.url_variable: example.broker.url,
        "dramatiq_worker_timeout": "40",
    }
    process = Process(command, cwd=tmp_path, env=env, log=tmp_path / f"{worker}.log")
    try:
        process.wait_for_output("is ready for action", timeout=30)
        subprocess.run(
            [python, "-c", "import slow; slow.slow.send()"],
            cwd=tmp_path, env={**os.environ, **env}, check=True, timeout=30,
        )  # fmt: skip
        wait_for(
            lambda: (
                "TimeLimitExceeded" in process.output()
                or "no time limit" in process.output()
            ),
            timeout=20,
            what="slow() to end",
        )
    finally:
        process.kill_group()
    return process.output()


def has_fork_bug(version: tuple[int, ...]) -> bool:
    return FORK_BUG[0] <= version < FORK_BUG[1]


def test_flask_worker_enforces_time_limits_unless_python_has_the_fork_bug(
    example: Example, tmp_path: Path
) -> None:
    """On the Python that runs the tests."""
    output = run_slow_actor(example, tmp_path, "flask_dramatiq", sys.executable)
    enforced = not has_fork_bug(sys.version_info[:3])
    assert ("TimeLimitExceeded" in output) == enforced
    assert ("no time limit" in output) == (not enforced)


def test_on_python_3_13_flask_worker_loses_time_limits_and_dramatiq_keeps_them(
    example: Example, tmp_path: Path, python_3_13: Path
) -> None:
    python = str(python_3_13 / "python")
    version = subprocess.run(
        [python, "-c", "import sys; print(*sys.version_info[:3])"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    # The three workers at once: one after the other took 14 s.
    with ThreadPoolExecutor() as pool:
        output, own, guide = pool.map(
            lambda worker: run_slow_actor(example, tmp_path / worker, worker, python),
            WORKERS,
        )
    if has_fork_bug(tuple(map(int, version.split()))):
        assert "Unexpected failure in after_process_boot of" in output
        assert "RuntimeError: thread already started" in output
        assert "no time limit" in output
        assert "TimeLimitExceeded" not in output
    else:
        assert "TimeLimitExceeded" in output

    assert "TimeLimitExceeded" in guide
    assert "RuntimeError" not in guide

    # The page's way out: Dramatiq's own command, on the extension's broker.
    assert "TimeLimitExceeded" in own
    assert "RuntimeError" not in own
