"""docs/troubleshooting.rst, 'The worker never runs the task'.

The broker is set after the actors are declared: the actor sends to the
broker Dramatiq made up, and the worker, which runs the reader's broker, has
no actor to listen for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.examples import Example
from support.output import check_shown_output
from support.processes import Process, stays_false, wait_for
from support.troubleshooting import (
    QUEUE,
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_running,  # noqa: F401  (the fixture "running")
    shell,
    start_worker,
)


def test_late_broker_leaves_the_message_waiting_and_the_worker_silent(
    example: Example,
    tmp_path: Path,
    running: list[Process],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The broker Dramatiq makes up uses the server's default vhost or
    # database, not the test's own: run the whole test there.
    monkeypatch.setenv(example.broker.url_variable, example.broker.default_url)
    example.broker.flush(QUEUE)
    try:
        late_broker_then_the_fix(example, tmp_path, running)
    finally:
        example.broker.flush(QUEUE)


def late_broker_then_the_fix(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    [check] = example.commands("late-broker-check")
    assert shell(check, example.path).stdout == "False\n"

    worker_command, send = example.commands("late-broker")
    worker = start_worker(example, worker_command, tmp_path, running)
    result = shell(send, example.path)
    assert result.returncode == 0, result.stderr

    # The actor sent to the broker Dramatiq made up: on this machine, the same
    # server on its default port. The worker's broker declared no actor, so
    # it consumes nothing, and says nothing about it.
    wait_for(
        lambda: example.broker.pending(QUEUE) == 1,
        timeout=10,
        what="the message to wait in the queue",
    )
    assert stays_false(lambda: "The sum" in worker.output(), 3)
    assert "WARNING" not in worker.output() and "ERROR" not in worker.output()
    worker.kill_group()

    # The fix: tasks.py imports the broker before it declares the actor.
    [check] = example.commands("broker-check")
    assert shell(check, example.path).stdout == "True\n"
    fixed = start_worker(example, example.procfile_command("worker"), tmp_path, running)
    # It declares add on its broker, so it consumes the waiting message.
    fixed.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)


def netns_works() -> bool:
    probe = subprocess.run(
        ["unshare", "--net", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.mark.measure
@pytest.mark.skipif(
    not (shutil.which("unshare") and shutil.which("ip")) or not netns_works(),
    reason="needs unshare --net (root) to run with no broker on localhost",
)
def test_late_broker_sends_to_localhost_whatever_the_url_says(
    example: Example,
) -> None:
    [send] = example.commands("late-broker-send")
    assert send.startswith(f"{example.broker.url_variable}=")
    assert "127.0.0.1" not in send.split()[0]
    # A machine where no broker listens on localhost, as in production: a
    # network namespace of its own, with only the loopback interface.
    result = subprocess.run(
        ["unshare", "--net", "sh", "-c", f"ip link set lo up && {send}"],
        cwd=example.path,
        env={k: v for k, v in os.environ.items() if not k.endswith("_URL")},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 1
    check_shown_output(
        example.path / "late-broker.txt",
        result.stderr,
        start="Traceback (most recent call last):",
    )
