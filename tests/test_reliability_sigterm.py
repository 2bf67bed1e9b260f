"""docs/outages.rst, 'Stop workers with SIGTERM'.

The running import finishes before the worker exits; a shutdown timeout
shorter than the import cuts it off, and the exit code still says 0.
"""

from __future__ import annotations

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
    stop_worker,
    watch,
)

pytestmark = pytest.mark.reliability


def test_sigterm_lets_the_running_import_finish_and_requeues_nothing_twice(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Folder(tmp_path, database)
    held = HeldFile(folder, "held.csv")
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    running, later = f"running-{uuid.uuid4().hex}", f"later-{uuid.uuid4().hex}"
    first = start(example, "worker", folder, "worker-1")
    second = None
    try:
        send(example, monkeypatch, running, "held.csv")
        watch(
            [first],
            lambda: runs(first.output())[running],
            timeout=30,
            what="the import",
        )

        first.popen.send_signal(signal.SIGTERM)
        began = time.monotonic()
        watch(
            [first],
            lambda: "Shutting down..." in first.output(),
            timeout=10,
            what="the worker to start shutting down",
        )
        # Sent during the shutdown: the stopping worker must not lose it.
        send(example, monkeypatch, later, "orders.csv")
        # The import lasts 3 s more; the worker must wait for it all along.
        held_until = time.monotonic() + 3
        while time.monotonic() < held_until:
            assert first.popen.poll() is None, (
                "the worker quit before its import was done"
            )
            time.sleep(0.05)

        held.feed("sku,quantity\nA-1,3\n", timeout=10)
        exit_code = first.popen.wait(30)
        shutdown = time.monotonic() - began
        second = start(example, "worker", folder, "worker-2")
        watch(
            [first, second],
            lambda: folder.done() == {running, later},
            timeout=30,
            what="both imports to be done",
        )
        assert stop_worker(second) == 0
    finally:
        first.kill_group()
        if second:
            second.kill_group()

    both = first.output() + second.output()
    print(
        f"\n[{example.broker.label}] SIGTERM -> exit {exit_code} after "
        f"{shutdown:.1f} s (the running import finished first); the import sent during "
        f"the shutdown ran on the "
        f"{'stopping' if runs(first.output())[later] else 'next'} worker"
    )
    assert exit_code == 0
    assert imported(first.output())[running] == 1
    assert runs(both) == {running: 1, later: 1}, "an import ran twice, or never"
    assert example.broker.pending(QUEUE) == 0


def test_a_shutdown_timeout_below_the_import_cuts_it_off_and_exits_0(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Folder(tmp_path, database)
    held = HeldFile(folder, "held.csv")
    import_id = f"cut-{uuid.uuid4().hex}"
    # A 1 s shutdown timeout, for an import that lasts until the test feeds it.
    first = start(
        example, "worker", folder, "worker-1", "--worker-shutdown-timeout 1000"
    )
    try:
        send(example, monkeypatch, import_id, "held.csv")
        watch(
            [first],
            lambda: runs(first.output())[import_id],
            timeout=30,
            what="the import",
        )
        first.popen.send_signal(signal.SIGTERM)
        began = time.monotonic()
        exit_code = first.popen.wait(30)
        exited = time.monotonic()
        second, ran_again = finish_on_a_second_worker(example, folder, held, import_id)
        # From the SIGTERM: the worker's heartbeat went on until its exit.
        redelivery = ran_again - began
    finally:
        first.kill_group()

    broker = example.broker.name
    figures = {"exit_seconds": exited - began, "redelivery_seconds": redelivery}
    for name, seconds in figures.items():
        record("reliability", f"shutdown_timeout.{name}.{broker}", round(seconds, 1))
    print(
        f"\n[{example.broker.label}] SIGTERM with a 1 s shutdown timeout -> exit "
        f"{exit_code} after {exited - began:.1f} s, the import cut off; it ran "
        f"again {redelivery:.1f} s after the SIGTERM"
    )
    # The exit code hides the cut-off import: only its second run shows it.
    assert exit_code == 0
    assert exited - began < 10
    assert imported(first.output())[import_id] == 0
    assert imported(second.output())[import_id] == 1
    assert folder.done() == {import_id}
    if example.broker.name == "redis":
        # Redis waits until the stopped worker's heartbeat is HEARTBEAT_TIMEOUT_S old.
        assert HEARTBEAT_TIMEOUT_S < redelivery < HEARTBEAT_TIMEOUT_S + 10
    else:
        # RabbitMQ requeues once the connection closes, at the exit.
        assert redelivery < 10
