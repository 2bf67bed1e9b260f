"""docs/idempotency.rst, 'Make every import idempotent'.

The done mark, written in the import's own transaction, lets one of two
copies that run at once import the file.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from support.examples import Example
from support.reliability import (
    QUEUE,
    Folder,
    failures,
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
    imported,
    runs,
    send,
    skipped,
    start,
    stop_worker,
    watch,
)

pytestmark = pytest.mark.reliability


def test_two_copies_running_at_once_import_the_file_once(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both copies pass the is_done() check; the transaction lets one import.

    The test inserts the import's done mark in a transaction it leaves open
    until both copies have read the file: both pass is_done(), which cannot
    see an uncommitted row, and wait at mark_done() on that row. Then the
    test rolls back: one copy inserts the mark, and the other waits for that
    copy's commit and writes nothing. A check-then-record actor would import
    twice here.
    """
    import psycopg

    folder = Folder(tmp_path, database)
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    import_id = f"twin-{uuid.uuid4().hex}"
    worker = start(example, "worker", folder, "worker")
    holder = psycopg.connect(database)  # Not autocommit: the INSERT stays open.
    try:
        holder.execute("INSERT INTO done (import_id) VALUES (%s)", (import_id,))
        for _ in range(2):
            send(example, monkeypatch, import_id, "orders.csv")
        watch(
            [worker],
            lambda: runs(worker.output())[import_id] == 2,
            timeout=30,
            what="both copies to read the file",
        )
        holder.rollback()
        watch(
            [worker],
            lambda: skipped(worker.output())[import_id] == 1,
            timeout=30,
            what="the second copy to be skipped",
        )
        assert stop_worker(worker) == 0
    finally:
        holder.close()
        worker.kill_group()

    assert imported(worker.output()) == {import_id: 1}
    assert not failures(worker.output()), "a copy timed out waiting at mark_done()"
    assert folder.rows() == {import_id: 2}
    assert example.broker.pending(QUEUE) == 0
