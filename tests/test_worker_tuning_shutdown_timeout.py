"""docs/worker_shutdown.rst, 'Set how long the worker waits'.

The longest task < ``--worker-shutdown-timeout`` < the platform's grace period;
at the timeout, the worker cuts the task off and exits with 0, and the broker
keeps its message.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest

from support.examples import Example
from support.processes import Process, stays_false, wait_for
from support.worker_tuning import (
    BOOTED,
    SLOW_QUEUE,
    fixture_example,  # noqa: F401  (the fixture "example")
    ready_in_queue,
)

PLATFORM_GRACE_MS = 30_000  # Heroku's and Kubernetes' SIGTERM-to-SIGKILL delay

# The shared fixture, bound here by name for pytest to find.


def test_longest_report_fits_in_the_shutdown_timeout_and_the_grace_period(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page's rule: the longest task < --worker-shutdown-timeout < the
    # platform's grace period (30 s on Heroku and Kubernetes).
    longest_ms = example.load("app", monkeypatch).MAX_SECONDS * 1000
    slow = shlex.split(example.procfile_command("worker-slow"))
    timeout_ms = int(slow[slow.index("--worker-shutdown-timeout") + 1])
    assert longest_ms < timeout_ms < PLATFORM_GRACE_MS


def test_shutdown_timeout_cuts_a_longer_report_short(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guide's 25 s would make this test slow: the same line with 1 s.
    command = example.procfile_command("worker-slow")
    assert "--worker-shutdown-timeout 25000" in command
    worker = Process(
        command.replace("25000", "1000"),
        cwd=example.path,
        env={example.broker.url_variable: example.broker.url},
        log=tmp_path / "short-shutdown.log",
    )
    try:
        worker.wait_for_output(BOOTED, timeout=30)
        example.load("tasks", monkeypatch).build_report.send(10)
        worker.wait_for_output("Building a 10 s report...", timeout=20)

        signalled = time.monotonic()
        assert worker.terminate(timeout=15) == 0
        took = time.monotonic() - signalled
        print(f"\n[{example.broker.name}] SIGTERM -> exit, 1 s timeout: {took:.2f} s")
        assert took < 8
        assert "Built the 10 s report." not in worker.output()
        # The worker logs nothing about the report it abandoned.
        assert "WARNING" not in worker.output()
        assert "ERROR" not in worker.output()

        if example.broker.name == "rabbitmq":
            # RabbitMQ puts the unacknowledged message back at once.
            wait_for(
                lambda: ready_in_queue(example, SLOW_QUEUE) == 1,
                timeout=5,
                what="RabbitMQ to requeue the report",
            )
        else:
            # Redis keeps the message but does not queue it again: that waits
            # for another worker's maintenance, minutes later.
            assert example.broker.pending(SLOW_QUEUE) == 1
            assert stays_false(lambda: ready_in_queue(example, SLOW_QUEUE), 3)
    finally:
        worker.kill_group()
