"""docs/worker_shutdown.rst, 'Kill the whole process group'.

SIGKILL to the main process alone leaves its worker processes consuming;
the page's command kills the whole group.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from support.examples import Example
from support.processes import wait_for
from support.worker_tuning import (
    FAST_QUEUE,
    SHOWN_PID,
    fixture_example,  # noqa: F401  (the fixture "example")
    ready_in_queue,
    start_and_wait_for_boot,
)

# The shared fixture, bound here by name for pytest to find.


def group_members(pgid: int) -> list[int]:
    """The PIDs of the live processes in process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the command name: state, ppid, pgrp, ...
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # The process ended while we looked.
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_killing_only_the_parent_leaves_workers_consuming(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = start_and_wait_for_boot(example, "worker", tmp_path)
    try:
        assert len(group_members(worker.popen.pid)) >= 2, "parent and children"

        os.kill(worker.popen.pid, signal.SIGKILL)
        worker.popen.wait(timeout=10)
        orphans = group_members(worker.popen.pid)
        assert orphans, "no worker process outlived its parent"

        # The orphans still take messages off the queue, unsupervised.
        example.load("tasks", monkeypatch).notify.send("to nobody")
        wait_for(
            lambda: ready_in_queue(example, FAST_QUEUE) == 0,
            timeout=10,
            what="an orphaned worker process to take the message",
        )
    finally:
        worker.kill_group()
    wait_for(
        lambda: not group_members(worker.popen.pid),
        timeout=10,
        what="the whole group to die",
    )


def test_force_stop_kills_the_whole_group(example: Example, tmp_path: Path) -> None:
    [force_stop] = example.commands("force-stop")
    assert force_stop == f"kill -KILL -- -{SHOWN_PID}"
    worker = start_and_wait_for_boot(example, "worker", tmp_path)
    try:
        assert len(group_members(worker.popen.pid)) >= 2
        subprocess.run(
            ["bash", "-c", force_stop.replace(SHOWN_PID, str(worker.popen.pid))],
            check=True,
            timeout=10,
        )
        wait_for(
            lambda: not group_members(worker.popen.pid),
            timeout=10,
            what="every process of the worker's group to die",
        )
    finally:
        worker.kill_group()
