"""docs/worker_tuning.rst, 'Size each worker' and 'Run it'.

The Procfile's two workers, each sized for its work (threads for waiting, one
thread per core for computing), and each serving only its own queue.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from support.examples import Example, run_against_flask
from support.processes import free_port, port_is_open, wait_for
from support.worker_tuning import (
    FAST_QUEUE,
    SLOW_QUEUE,
    fixture_example,  # noqa: F401  (the fixture "example")
    start_and_wait_for_boot,
)

# The shared fixture, bound here by name for pytest to find.


# --- Size each worker ------------------------------------------------------


def test_procfile_sizes_each_worker_for_its_work(example: Example) -> None:
    fast = shlex.split(example.procfile_command("worker"))
    slow = shlex.split(example.procfile_command("worker-slow"))
    # I/O-bound notifications: more threads; CPU-bound reports: one thread
    # per process, and the default of one process per CPU core.
    assert fast[fast.index("--threads") + 1] == "16"
    assert slow[slow.index("--threads") + 1] == "1"
    assert "--processes" not in fast + slow
    assert fast[fast.index("--queues") + 1 :][:1] == [FAST_QUEUE]
    assert slow[slow.index("--queues") + 1 :][:1] == [SLOW_QUEUE]


# --- Run it ----------------------------------------------------------------


@pytest.mark.smoke
def test_each_worker_serves_only_its_own_queue(
    example: Example, tmp_path: Path
) -> None:
    port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(port)})
    slow = start_and_wait_for_boot(example, "worker-slow", tmp_path)
    fast = None
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the Flask app")
        [curl] = example.commands("request")
        answer = run_against_flask(curl, port)
        assert json.loads(answer)["message_id"]

        slow.wait_for_output("Built the 2 s report.", timeout=30)
        # The report queued its notification on the fast queue, which the
        # slow worker does not serve: it waits there for the fast worker.
        wait_for(
            lambda: example.broker.pending(FAST_QUEUE) == 1,
            timeout=10,
            what="the notification to reach the fast queue",
        )
        fast = start_and_wait_for_boot(example, "worker", tmp_path)
        fast.wait_for_output("Notified: Your 2 s report is ready.", timeout=20)
        assert "Notified" not in slow.output()
        assert "Building" not in fast.output()
    finally:
        web.kill_group()
        slow.kill_group()
        if fast:
            fast.kill_group()
