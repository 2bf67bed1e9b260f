"""docs/outages.rst, 'Know what happens when a worker crashes'."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from support.examples import Example
from support.figures import record
from support.reliability import (
    HEARTBEAT_TIMEOUT_S,
    QUEUE,
    Folder,
    HeldFile,
    finish_on_a_second_worker,
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
    imported,
    runs,
    send,
    start,
    watch,
)

pytestmark = pytest.mark.reliability


def test_import_of_a_killed_worker_runs_again_on_a_new_worker(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Folder(tmp_path, database)
    held = HeldFile(folder, "held.csv")
    import_id = f"crash-{uuid.uuid4().hex}"
    first = start(example, "worker", folder, "worker-1")
    try:
        send(example, monkeypatch, import_id, "held.csv")
        watch(
            [first],
            lambda: runs(first.output())[import_id],
            timeout=30,
            what="the import",
        )

        # SIGKILL the whole group: a crash, an OOM kill or a pulled plug.
        os.killpg(first.popen.pid, signal.SIGKILL)
        first.popen.wait(10)
        killed = time.monotonic()
        second, ran_again = finish_on_a_second_worker(example, folder, held, import_id)
        redelivery = ran_again - killed
    finally:
        first.kill_group()

    record(
        "reliability",
        f"crash_redelivery_seconds.{example.broker.name}",
        round(redelivery, 1),
    )
    print(
        f"\n[{example.broker.label}] worker killed -> import running on a new worker: "
        f"{redelivery:.1f} s"
    )
    assert imported(first.output())[import_id] == 0
    assert imported(second.output())[import_id] == 1
    assert folder.done() == {import_id}
    assert example.broker.pending(QUEUE) == 0
    if example.broker.name == "rabbitmq":
        # RabbitMQ requeues at once; the new worker's start-up takes the time.
        assert redelivery < 10
    else:
        # Redis waits until the dead worker's heartbeat is HEARTBEAT_TIMEOUT_S old.
        assert HEARTBEAT_TIMEOUT_S - 2 < redelivery < HEARTBEAT_TIMEOUT_S + 10
