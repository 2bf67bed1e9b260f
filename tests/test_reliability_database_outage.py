"""docs/outages.rst, 'Survive a database outage'."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from support.databases import Proxy, address, with_address
from support.examples import Example
from support.figures import record
from support.processes import port_is_open
from support.reliability import (
    Client,
    Folder,
    failures,
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
    imported,
    send,
    skipped,
    start,
    stop_worker,
    watch,
)

pytestmark = pytest.mark.reliability


DATABASE_UNAVAILABLE = {"error": "The database is unavailable. Try again later."}


def test_a_database_that_is_down_or_hung_answers_503_and_the_import_is_retried(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app and the worker reach PostgreSQL through a proxy the test switches off.

    Refused: PostgreSQL stopped. Hung: connections open and nothing answers,
    as with a frozen host, so only the example's connect_timeout (5 s) ends
    the wait. The app answers 503 either way; the worker's import fails, and
    Dramatiq retries it until PostgreSQL is back.
    """
    proxy = Proxy(address(database))
    folder = Folder(
        tmp_path,
        database,
        env={
            "DATABASE_URL": with_address(database, "127.0.0.1", proxy.port),
            # Retry within a second, so the test sees several retries.
            "IMPORT_MIN_BACKOFF_MS": "100",
            "IMPORT_MAX_BACKOFF_MS": "1000",
        },
    )
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    import_id = f"outage-{uuid.uuid4().hex}"
    worker = start(example, "worker", folder, "worker")
    web = start(example, "web", folder, "web")
    port = int(folder.env["PORT"])
    client = Client(port)
    try:
        watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
        # The port opens before gunicorn's worker has loaded the app: wait for
        # an answer (400, no file name) so the timings below are the database's.
        assert client.post(import_id, "").status == 400
        proxy.refusing()
        refused = client.post(import_id, "orders.csv")
        proxy.hung()
        hung = client.post(import_id, "orders.csv")
        proxy.refusing()
        send(example, monkeypatch, import_id, "orders.csv")
        watch(
            [worker],
            lambda: failures(worker.output())[import_id] >= 2,
            timeout=30,
            what="the import to fail and be retried",
        )
        proxy.up()
        # The client retries its request, with the same key: the message it
        # queues and the import's retry run once between them.
        back = client.post(import_id, "orders.csv")
        watch(
            [worker],
            lambda: (
                imported(worker.output())[import_id] == 1
                and skipped(worker.output())[import_id] == 1
            ),
            timeout=30,
            what="the file imported once PostgreSQL is back, and the copy skipped",
        )
        assert stop_worker(worker) == 0
    finally:
        client.close()
        web.kill_group()
        worker.kill_group()
        proxy.close()

    failed = failures(worker.output())[import_id]
    # The database's figures, whichever broker the run used.
    record("reliability", "database_outage.refused_ms", round(refused.seconds * 1000))
    record("reliability", "database_outage.hung_seconds", round(hung.seconds, 1))
    print(
        f"\n[{example.broker.label}] PostgreSQL refusing: 503 after "
        f"{refused.seconds * 1000:.0f} ms; hung: 503 after {hung.seconds:.1f} s; "
        f"the import failed {failed} times while it was down, then its retry "
        "imported the file"
    )
    for answer in (refused, hung):
        assert answer.status == 503
        assert answer.body.count("\n") <= 1  # One line of JSON.
        assert json.loads(answer.body) == DATABASE_UNAVAILABLE
    assert refused.seconds < 1
    assert 4 < hung.seconds < 8, "connect_timeout=5 bounds the wait"
    assert "Traceback" not in web.output()
    assert "psycopg.OperationalError" in worker.output()
    assert back.status == 202
    assert folder.done() == {import_id}
    assert folder.rows() == {import_id: 2}
