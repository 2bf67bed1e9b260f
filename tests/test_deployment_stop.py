"""docs/services.rst, 'Stop the worker without losing work'.

The worker's shutdown timeout fits within the grace period of Compose,
systemd and Heroku; SIGTERM to dramatiq's main process lets the running
task finish, and a second SIGTERM to a worker process cuts it off.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.deployment import (
    QUEUE,
    compose,
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_files,  # noqa: F401  (the fixture "files")
    fixture_running,  # noqa: F401  (the fixture "running")
    unit,
)
from support.examples import Example
from support.processes import Process

HEROKU_GRACE = 30  # seconds from SIGTERM to SIGKILL on a Procfile host


def shutdown_timeout_ms(command: str) -> int:
    """The --worker-shutdown-timeout of a dramatiq command; Dramatiq's default."""
    words = shlex.split(command)
    if "--worker-shutdown-timeout" not in words:
        return 600_000
    return int(words[words.index("--worker-shutdown-timeout") + 1])


def seconds(duration: str) -> int:
    """Compose's "60s", "1m30s" and "2m" as seconds."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, f"not a duration of minutes and seconds: {duration!r}"
    minutes, secs = (int(part or 0) for part in parts.groups())
    return minutes * 60 + secs


def test_worker_stops_on_sigterm_within_the_same_grace_as_systemd(
    files: Example,
) -> None:
    worker = compose(files)["services"]["worker"]
    assert worker["stop_signal"] == "SIGTERM"
    # A string command, which compose splits without a shell: dramatiq is
    # the container's main process, so SIGTERM reaches dramatiq itself.
    assert shlex.split(worker["command"])[0] == "dramatiq"
    grace = seconds(worker["stop_grace_period"])
    assert int(unit(files)["Service"]["TimeoutStopSec"]) == grace
    # The page's rule: the worker gives up on its tasks before the platform
    # kills it, Heroku's 30 s included; Dramatiq's default waits 10 minutes.
    timeout_ms = shutdown_timeout_ms(files.procfile_command("worker"))
    assert timeout_ms < min(grace, HEROKU_GRACE) * 1000


# A worker module for the next tests: one slow actor on the example's queue.
SLOW_ACTOR_MODULE = """
import time

import dramatiq

import tasks  # noqa: F401  (sets the example's broker)


@dramatiq.actor(queue_name="deployment", actor_name="deployment_slow")
def slow() -> None:
    print("task started", flush=True)
    time.sleep(3)
    print("task finished", flush=True)
"""


@pytest.fixture
def slow_task(
    example: Example,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    running: list[Process],
) -> Iterator[Process]:
    """The Procfile's worker plus the slow actor, once the actor has started."""
    (tmp_path / "deployment_slow.py").write_text(textwrap.dedent(SLOW_ACTOR_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    example.load("deployment_slow", monkeypatch).slow.send()
    # dramatiq wants its modules right after the broker module: tasks.
    command = example.procfile_command("worker")
    assert " dramatiq tasks " in f" {command} "
    worker = Process(
        command.replace("dramatiq tasks", "dramatiq tasks deployment_slow", 1)
        + " --processes 1 --threads 1",
        cwd=example.path,
        env={
            example.broker.url_variable: example.broker.url,
            "PYTHONPATH": str(tmp_path),
        },
        log=tmp_path / "slow-worker.log",
    )
    running.append(worker)
    worker.wait_for_output("task started", timeout=20)
    yield worker
    worker.kill_group()
    drop_unacked(example)


def test_sigterm_to_the_main_process_lets_the_running_task_finish(
    slow_task: Process,
) -> None:
    # What docker compose stop and systemd's KillMode=mixed do.
    assert slow_task.terminate(timeout=30) == 0
    assert "task finished" in slow_task.output()


def test_a_second_sigterm_makes_a_worker_process_quit_mid_task(
    slow_task: Process,
) -> None:
    # What systemd's default KillMode=control-group often does: SIGTERM to
    # every process, so each worker process gets it from systemd, then once
    # more from dramatiq's main process. Sent here in that order, on purpose.
    [child] = re.findall(
        r"\[PID (\d+)\] \[MainThread\] \[dramatiq\.WorkerProcess", slow_task.output()
    )
    os.kill(int(child), signal.SIGTERM)
    slow_task.wait_for_output("Stopping worker process...", timeout=10)
    os.kill(slow_task.popen.pid, signal.SIGTERM)

    assert slow_task.popen.wait(timeout=30) != 0
    assert "Killing worker process..." in slow_task.output()
    assert "task finished" not in slow_task.output()


def drop_unacked(example: Example) -> None:
    """Forget the killed task, which Redis would requeue in a minute or more."""
    if example.broker.name == "redis":
        import redis

        client = redis.Redis.from_url(example.broker.url)
        for key in client.scan_iter(f"dramatiq:__acks__.*.{QUEUE}"):
            client.delete(key)
