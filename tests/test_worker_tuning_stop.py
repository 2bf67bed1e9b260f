"""docs/worker_shutdown.rst, 'Stop workers without losing work'.

SIGTERM lets the report in flight finish before the worker exits with 0.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from support.examples import Example
from support.figures import record
from support.output import check_shown_output
from support.worker_tuning import (
    SHOWN_PID,
    SLOW_QUEUE,
    fixture_example,  # noqa: F401  (the fixture "example")
    start_and_wait_for_boot,
)

# The shared fixture, bound here by name for pytest to find.


@pytest.mark.figure
def test_sigterm_lets_the_report_in_flight_finish(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [stop] = example.commands("stop")
    assert stop == f"kill -TERM {SHOWN_PID}"
    worker = start_and_wait_for_boot(example, "worker-slow", tmp_path)
    try:
        example.load("tasks", monkeypatch).build_report.send(2)
        worker.wait_for_output("Building a 2 s report...", timeout=20)

        signalled = time.monotonic()
        subprocess.run(
            ["bash", "-c", stop.replace(SHOWN_PID, str(worker.popen.pid))],
            check=True,
            timeout=10,
        )
        code = worker.popen.wait(timeout=30)
        took = time.monotonic() - signalled
        print(
            f"\n[{example.broker.name}] SIGTERM -> exit with a 2 s task: {took:.2f} s"
        )

        assert code == 0
        assert "Built the 2 s report." in worker.output()
        assert 2 <= took < 15
        record(
            "worker_tuning",
            f"sigterm_exit_seconds.{example.broker.name}",
            round(took, 1),
        )
        # The report finished, so its message is acked: nothing to run again.
        assert example.broker.pending(SLOW_QUEUE) == 0
    finally:
        worker.kill_group()
    check_shown_output(example.path / "output.txt", worker.output())
