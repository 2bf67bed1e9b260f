"""docs/outages.rst, 'Know your throughput': 5,000 POSTs through gunicorn."""

from __future__ import annotations

import http.client
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from statistics import median

import pytest

from support.examples import Example
from support.figures import record
from support.processes import port_is_open
from support.reliability import (
    QUEUE,
    Answer,
    Client,
    Folder,
    failures,
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
    imported,
    runs,
    skipped,
    start,
    stop_worker,
    watch,
)

pytestmark = pytest.mark.reliability


def post_all(port: int, keys: list[str], name: str, clients: int) -> list[Answer]:
    """POST every key once, spread over ``clients`` concurrent connections."""
    answers: list[Answer] = []
    errors: list[BaseException] = []

    def run(share: list[str]) -> None:
        client = Client(port)
        try:
            answers.extend(client.post(key, name) for key in share)
        except (OSError, http.client.HTTPException) as error:  # Reported below.
            errors.append(error)
        finally:
            client.close()

    threads = [
        threading.Thread(target=run, args=(keys[i::clients],)) for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    return answers


def settled(output: str, retried_keys: list[str]) -> bool:
    """The client's retried keys were skipped, and every failed import's retry ran."""
    done_or_skipped = imported(output) + skipped(output)
    return all(skipped(output)[key] for key in retried_keys) and all(
        done_or_skipped[key] for key in failures(output)
    )


def connect_seconds(connect: Callable[[], AbstractContextManager]) -> float:
    """How long ``connect()`` takes to open one connection (closed after)."""
    began = time.monotonic()
    with connect():
        return time.monotonic() - began


def test_5000_posts_are_processed_exactly_once(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Retry a failed attempt within a second (the page's budget waits 10 s or
    # more), so the test can wait for every retry to end.
    folder = Folder(
        tmp_path,
        database,
        env={"IMPORT_MIN_BACKOFF_MS": "100", "IMPORT_MAX_BACKOFF_MS": "1000"},
    )
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    keys = [f"load-{n}-{uuid.uuid4().hex[:8]}" for n in range(5000)]
    worker = start(example, "worker", folder, "worker")
    web = start(example, "web", folder, "web")
    port = int(folder.env["PORT"])
    try:
        watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
        began = time.monotonic()
        answers = post_all(port, keys, "orders.csv", clients=4)
        enqueued = time.monotonic() - began
        watch(
            [worker],
            lambda: len(folder.done()) == len(keys),
            timeout=120,
            what="5,000 imports done",
        )
        processed = time.monotonic() - began

        # A client that lost its answers retries 50 of them with the same keys.
        retries = post_all(port, keys[:50], "orders.csv", clients=1)
        watch(
            [worker],
            lambda: (
                settled(worker.output(), keys[:50])
                and example.broker.pending(QUEUE) == 0
            ),
            timeout=30,
            what="the 50 retried requests to be skipped, and every retry to end",
        )
        assert stop_worker(worker) == 0
    finally:
        web.kill_group()
        worker.kill_group()

    # What each request and each task pays for its own connection, on the
    # machine at rest: the example's connect(), to the test's database.
    monkeypatch.setenv("DATABASE_URL", database)
    connect = example.load("database", monkeypatch).connect
    connect_ms = median(connect_seconds(connect) for _ in range(20)) * 1000

    output = worker.output()
    # An attempt that raised, such as a lock or statement timeout, was
    # retried. Its transaction may or may not have committed, so its retry
    # may import or skip: either way the rows must exist once.
    failed = failures(output)
    clean = [key for key in keys if not failed[key]]
    statuses = Counter(a.status for a in answers + retries)
    broker = example.broker.name
    rates = {"enqueued": len(keys) / enqueued, "processed": len(keys) / processed}
    for name, rate in rates.items():
        record("reliability", f"throughput.{name}_per_second.{broker}", round(rate))
    # The machine's and the database's figures, whichever broker the run used.
    record("reliability", "cores", os.cpu_count())
    record("reliability", "database_connect_ms", round(connect_ms, 1))
    print(
        f"\n[{example.broker.label}] 5,000 POSTs, 4 clients: enqueued at "
        f"{rates['enqueued']:.0f}/s (median answer "
        f"{median(a.seconds for a in answers) * 1000:.1f} ms), processed at "
        f"{rates['processed']:.0f}/s on {os.cpu_count()} cores; 50 retried keys "
        f"skipped by the worker; {sum(failed.values())} attempts failed and were "
        f"retried {dict(failed)}; a new database connection: {connect_ms:.1f} ms"
    )
    assert statuses == {202: 5050}
    assert folder.done() == set(keys)
    assert folder.rows() == dict.fromkeys(keys, 2), (
        "an import's rows were written twice"
    )
    # Each count reads the whole log once: not once per key, which took minutes.
    commits, starts, skips = imported(output), runs(output), skipped(output)
    assert all(commits[key] <= 1 for key in keys), "an import committed twice"
    assert {key: starts[key] for key in clean} == dict.fromkeys(clean, 1)
    retried = set(keys[:50])
    assert {key: skips[key] for key in clean} == {
        key: int(key in retried) for key in clean
    }
    assert example.broker.dead(QUEUE) == 0
    assert example.broker.pending(QUEUE) == 0
