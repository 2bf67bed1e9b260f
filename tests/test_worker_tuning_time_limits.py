"""docs/worker_shutdown.rst, 'Limit how long a task runs'.

A report over its time limit fails, runs once more and goes to the
dead-letter queue; a time limit cannot interrupt a blocking call.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from support.examples import Example
from support.output import check_shown_output
from support.processes import Process, wait_for
from support.worker_tuning import (
    BOOTED,
    SLOW_QUEUE,
    editable_copy,
    fixture_example,  # noqa: F401  (the fixture "example")
    start_and_wait_for_boot,
)

# The shared fixture, bound here by name for pytest to find.


def test_time_limit_stops_the_report_retries_once_then_dead_letters(
    example: Example, tmp_path: Path
) -> None:
    worker = start_and_wait_for_boot(example, "worker-slow", tmp_path)
    try:
        [send] = example.commands("time-limit")
        subprocess.run(
            shlex.split(send),
            cwd=example.path,
            env={**os.environ, example.broker.url_variable: example.broker.url},
            check=True,
            timeout=30,
        )
        worker.wait_for_output("Retries exceeded for message", timeout=30)
        wait_for(
            lambda: example.broker.dead(SLOW_QUEUE) == 1,
            timeout=10,
            what="the report in the dead-letter queue",
        )
        output = worker.output()
        assert output.count("Building a 5 s report...") == 2  # max_retries=1
        assert output.count("Time limit exceeded.") == 2
        assert output.count("TimeLimitExceeded") == 2
        assert "Built the 5 s report." not in output
        assert example.broker.pending(SLOW_QUEUE) == 0
    finally:
        worker.kill_group()
    check_shown_output(
        example.path / "time-limit.txt",
        worker.output(),
        start="Building a 5 s report...",
        end="Retries exceeded",
    )


NAPPING = """\
import time

import dramatiq

import tasks  # noqa: F401  (sets the broker)


@dramatiq.actor(queue_name="tuning-slow", max_retries=0)
def nap(seconds: float) -> None:
    started = time.monotonic()
    try:
        time.sleep(seconds)
    finally:
        print(f"Woke up after {time.monotonic() - started:.1f} s.")
"""


@pytest.mark.measure
def test_time_limit_cannot_interrupt_a_blocking_call(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guide warns about this; its example has no blocking actor, so the
    # test adds one to a copy of the folder.
    project = editable_copy(example, tmp_path)
    (project.path / "napping.py").write_text(NAPPING)
    worker = Process(
        f"dramatiq tasks napping --queues {SLOW_QUEUE} --processes 1 --threads 1",
        cwd=project.path,
        env={example.broker.url_variable: example.broker.url},
        log=tmp_path / "napping.log",
    )
    try:
        worker.wait_for_output(BOOTED, timeout=30)
        nap = project.load("napping", monkeypatch).nap
        nap.send_with_options(args=(4,), time_limit=1_000)
        worker.wait_for_output("TimeLimitExceeded", timeout=20)
    finally:
        worker.kill_group()
    output = worker.output()
    # The limit fired after 1 to 2 s, yet the sleep ran its full 4 s.
    assert "Time limit exceeded." in output
    assert "Woke up after 4.0 s." in output
    assert output.index("Woke up after") < output.index("TimeLimitExceeded")
