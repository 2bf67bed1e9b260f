"""docs/health.rst: the worker's liveness and the app's readiness, for real.

The Procfile's worker and app run against the test's broker, or against one
that refuses connections or never answers. ``python health.py`` (the
liveness check the compose file, the Kubernetes pods and the page run) and
the app's /health/ready must then say what the page says: alive and ready;
alive and not ready without the broker; not alive when a worker process
hangs, or a message runs too long. The systemd unit's watchdog process
sends WATCHDOG=1 to a socket standing in for systemd's while all is well.
Under ``nox -s reliability``, the broker itself stops and starts again.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support.broker_control import Control
from support.brokers import hung_broker_url
from support.deployment import parse_unit
from support.examples import (
    BROKER_UNAVAILABLE,
    Example,
    example_params,
    with_empty_queues,
)
from support.feeds import feed_server
from support.processes import Process, free_port, stays_false, wait_for

QUEUE = "feeds"
# Heartbeats every 0.2 s, stale after 2 s: the page's 5 s and 20 s, faster.
FAST = {"HEARTBEAT_SECONDS": "0.2", "HEARTBEAT_STALE_SECONDS": "2"}
# How often a test runs the liveness check while it waits: each run starts
# Python and imports Dramatiq (0.1 s of CPU), so every 0.05 s kept two thirds
# of a core busy.
CHECK_EVERY = 0.25


@pytest.fixture(name="example", params=example_params("health"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.fixture(name="env")
def fixture_env(example: Example, tmp_path: Path) -> dict[str, str]:
    """The worker's environment, and the liveness check's: one heartbeat folder."""
    return {
        example.broker.url_variable: example.broker.url,
        "HEARTBEAT_DIR": str(tmp_path / "heartbeats"),
        **FAST,
    }


def liveness(example: Example, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The page's liveness check, run as shown, from the example's folder."""
    [command] = example.commands("live")
    return subprocess.run(
        shlex.split(command),
        cwd=example.path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def alive(example: Example, env: dict[str, str]) -> bool:
    return liveness(example, env).returncode == 0


def start_worker(example: Example, env: dict[str, str], tmp_path: Path) -> Process:
    worker = example.start("worker", tmp_path, env)
    wait_for(
        lambda: alive(example, env),
        timeout=20,
        what="the worker's heartbeats",
        interval=CHECK_EVERY,
    )
    return worker


def worker_processes(env: dict[str, str]) -> list[int]:
    """The worker processes, by the heartbeat files they write."""
    return sorted(int(path.name) for path in Path(env["HEARTBEAT_DIR"]).iterdir())


def compose_web_check(example: Example, port: int) -> int:
    """The compose file's web healthcheck, run here against the app on ``port``."""
    services = yaml.safe_load((example.path / "compose.yaml").read_text())["services"]
    _, *command = services["web"]["healthcheck"]["test"]
    command[-1] = command[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    return subprocess.run(
        [sys.executable if word == "python" else word for word in command],
        capture_output=True, timeout=10, check=False,
    ).returncode  # fmt: skip


def get(example: Example, port: int, section: str | None, path: str = "") -> tuple:
    """GET a health URL of the app (the page's command for ``section``)."""
    if section:
        [command] = example.commands(section)
        url = shlex.split(command)[-1]
    else:
        url = f"http://127.0.0.1:8000{path}"
    url = url.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    answer = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code}", url],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    body, _, status = answer.stdout.rpartition("\n")
    return int(status), json.loads(body)


@pytest.mark.smoke
def test_a_running_worker_is_alive_and_the_app_ready(
    example: Example, env: dict[str, str], tmp_path: Path
) -> None:
    worker = start_worker(example, env, tmp_path)
    try:
        checked = liveness(example, env)
        assert (checked.returncode, checked.stdout) == (0, "Alive.\n")
        wait_for(
            lambda: len(worker_processes(env)) == os.cpu_count(),
            timeout=10,
            what="a heartbeat from each worker process (--processes' default)",
        )
        with example.web_server(tmp_path) as port:
            assert get(example, port, "ready") == (200, {"status": "ready"})
            assert get(example, port, None, "/health/live") == (
                200,
                {"status": "alive"},
            )
            assert compose_web_check(example, port) == 0
        # The file of a process that is gone, and never cleaned up: ignored.
        gone = Path(env["HEARTBEAT_DIR"]) / str(2**22 + 1)  # Above any pid_max.
        gone.touch()
        os.utime(gone, (0, 0))
        assert alive(example, env)
        gone.unlink()
        # A clean stop removes each process's file: none is left to check.
        assert worker.terminate(timeout=30) == 0
        assert worker_processes(env) == []
        assert "no worker process" in liveness(example, env).stderr
    finally:
        worker.kill_group()


@pytest.mark.parametrize("fault", ["refused", "hung"])
def test_without_the_broker_the_app_is_not_ready_and_the_worker_stays_alive(
    example: Example, env: dict[str, str], tmp_path: Path, fault: str
) -> None:
    with hung_broker_url(example.broker) as hung:
        scheme = "amqp" if example.broker.name == "rabbitmq" else "redis"
        url = hung if fault == "hung" else f"{scheme}://127.0.0.1:{free_port()}"
        env = {**env, example.broker.url_variable: url}
        worker = start_worker(example, env, tmp_path)
        try:
            # The worker waits for its broker; restarting it would not help.
            assert stays_false(
                lambda: not alive(example, env), seconds=3, interval=CHECK_EVERY
            )
            with example.web_server(tmp_path, url=url) as port:
                # Alive without the broker. And gunicorn has now loaded the
                # app, so its start-up does not count in the timing below.
                assert get(example, port, None, "/health/live")[0] == 200
                started = time.monotonic()
                status, body = get(example, port, "ready")
                took = time.monotonic() - started
                assert (status, body) == (503, BROKER_UNAVAILABLE)
                # The page: a hung broker's check gives up after 2 s.
                assert took < 3.5, f"readiness took {took:.1f} s"
                assert compose_web_check(example, port) != 0
        finally:
            worker.kill_group()


def test_a_hung_worker_process_is_not_alive(
    example: Example, env: dict[str, str], tmp_path: Path
) -> None:
    worker = start_worker(example, env, tmp_path)
    try:
        hung = worker_processes(env)[0]
        os.kill(hung, signal.SIGSTOP)
        wait_for(
            lambda: not alive(example, env),
            timeout=10,
            what="liveness to fail",
            interval=CHECK_EVERY,
        )
        checked = liveness(example, env)
        assert checked.stderr.startswith(f"Not alive: worker process {hung}: ")
        os.kill(hung, signal.SIGCONT)
        wait_for(
            lambda: alive(example, env),
            timeout=10,
            what="liveness again",
            interval=CHECK_EVERY,
        )
    finally:
        worker.kill_group()


def test_a_message_that_runs_too_long_stops_its_process_heartbeat(
    example: Example, env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "HEARTBEAT_STUCK_SECONDS": "1"}
    with feed_server(200, delay=6) as feed_port:
        worker = start_worker(example, env, tmp_path)
        try:
            with example.web_server(tmp_path) as port:
                subprocess.run(
                    ["curl", "-s", "--data", f"url=http://127.0.0.1:{feed_port}/feed",
                     f"http://127.0.0.1:{port}/feeds"],
                    capture_output=True, timeout=10, check=True,
                )  # fmt: skip
            # 1 s into the import, then 2 s without a heartbeat: not alive,
            # until the import ends. Keep the check that failed: the next one
            # may come after the end.
            failed: list[subprocess.CompletedProcess] = []

            def stuck() -> bool:
                checked = liveness(example, env)
                if checked.returncode:
                    failed.append(checked)
                return bool(failed)

            wait_for(stuck, timeout=8, what="a stuck message", interval=CHECK_EVERY)
            assert failed[0].stderr.startswith("Not alive: worker process ")
            # The import ends at 6 s: the heartbeats resume.
            wait_for(
                lambda: alive(example, env),
                timeout=8,
                what="liveness again",
                interval=CHECK_EVERY,
            )
        finally:
            worker.kill_group()


def test_the_watchdog_tells_systemd_while_every_process_beats(
    example: Example, env: dict[str, str], tmp_path: Path
) -> None:
    """The unit's ExecStart, from the example's folder, with a stand-in systemd."""
    exec_start = parse_unit(example.path / "flask-app-worker.service")["Service"][
        "ExecStart"
    ]
    command = exec_start.replace("/opt/flask-app/.venv/bin/dramatiq", "dramatiq")
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(address)
        systemd.settimeout(0.1)

        def notified() -> bool:
            try:
                return systemd.recv(100) == b"WATCHDOG=1"
            except TimeoutError:
                return False

        worker = Process(
            command,
            cwd=example.path,
            env={**env, "NOTIFY_SOCKET": address},
            log=tmp_path / "worker.log",
        )
        try:
            wait_for(notified, timeout=20, what="WATCHDOG=1")
            hung = worker_processes(env)[0]
            os.kill(hung, signal.SIGSTOP)
            # Once liveness fails, 2 s after the last heartbeat, the watchdog
            # falls silent.
            wait_for(
                lambda: not alive(example, env),
                timeout=10,
                what="a hang",
                interval=CHECK_EVERY,
            )
            while notified():
                pass  # Drain what it sent before.
            assert stays_false(notified, seconds=2)
            os.kill(hung, signal.SIGCONT)
            wait_for(notified, timeout=5, what="WATCHDOG=1 again")
        finally:
            worker.kill_group()


@pytest.mark.reliability
def test_stopping_the_broker_fails_readiness_not_liveness(
    example: Example, env: dict[str, str], tmp_path: Path
) -> None:
    """The broker itself stopped and started again, as its admin would."""
    control = Control(example.broker)
    worker = start_worker(example, env, tmp_path)
    try:
        with example.web_server(tmp_path) as port:
            assert get(example, port, "ready")[0] == 200
            with control.down():
                assert get(example, port, "ready") == (503, BROKER_UNAVAILABLE)
                assert stays_false(
                    lambda: not alive(example, env), seconds=5, interval=CHECK_EVERY
                )
            wait_for(
                lambda: get(example, port, "ready")[0] == 200,
                timeout=30,
                what="readiness once the broker is back",
            )
            assert alive(example, env)
    finally:
        worker.kill_group()
