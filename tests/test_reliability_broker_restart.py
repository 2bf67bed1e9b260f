"""docs/outages.rst, 'Survive a broker restart'.

The test stops and starts the broker on this machine, under traffic.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from statistics import median

import pytest

from support.broker_control import Control, persistence
from support.examples import BROKER_UNAVAILABLE, Example
from support.figures import record
from support.processes import port_is_open, wait_for
from support.reliability import (
    Answer,
    Client,
    Folder,
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


# How long the broker restart test keeps the broker down, in seconds.
OUTAGE_S = 5


class Traffic:
    """Clients that POST new imports without pause until stopped."""

    def __init__(self, port: int, name: str, clients: int) -> None:
        self.answers: list[Answer] = []
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.run, args=(port, name, n))
            for n in range(clients)
        ]

    def run(self, port: int, name: str, n: int) -> None:
        client = Client(port)
        try:
            while not self.stopping.is_set():
                self.answers.append(client.post(f"t{n}-{uuid.uuid4().hex}", name))
        except (OSError, http.client.HTTPException) as error:  # Reported later.
            self.errors.append(error)
        finally:
            client.close()

    def since(self, moment: float, status: int) -> list[Answer]:
        return [a for a in list(self.answers) if a.at > moment and a.status == status]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_broker_restart_answers_503_then_recovers_and_loses_no_202(
    example: Example, tmp_path: Path, database: str
) -> None:
    control = Control(example.broker)
    folder = Folder(tmp_path, database)
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    with persistence(example, control) as settings:
        worker = start(example, "worker", folder, "worker")
        web = start(example, "web", folder, "web")
        port = int(folder.env["PORT"])
        try:
            watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
            traffic = Traffic(port, "orders.csv", clients=3)
            traffic.start()
            try:
                watch(
                    [web],
                    lambda: len(traffic.since(0, 202)) >= 100,
                    timeout=30,
                    what="100 accepted requests",
                )
                with control.down():
                    stopped = time.monotonic()
                    # Longer than the worker's 3 s delay before it reconnects.
                    watch(
                        [web],
                        lambda: (
                            len(traffic.since(stopped, 503)) >= 30
                            and time.monotonic() > stopped + OUTAGE_S
                        ),
                        timeout=30,
                        what="503 answers while the broker is down",
                    )
                    control.start(**settings)
                    back = time.monotonic()
                watch(
                    [web, worker],
                    lambda: len(traffic.since(back, 202)) >= 100,
                    timeout=60,
                    what="accepted requests after the restart",
                )
            finally:
                traffic.stop()
            answers = list(traffic.answers)
            accepted = {a.key for a in answers if a.status == 202}
            try:
                wait_for(
                    lambda: accepted <= folder.done(),
                    timeout=60,
                    what="every accepted request to be processed",
                )
            except AssertionError:
                lost = len(accepted - folder.done())
                raise AssertionError(
                    f"{lost} of {len(accepted)} requests answered 202 were never "
                    "processed"
                ) from None
            assert worker.popen.poll() is None and web.popen.poll() is None
            assert stop_worker(worker) == 0
        finally:
            web.kill_group()
            worker.kill_group()

    refused = [a for a in answers if a.status == 503]
    first_202 = min(a.at for a in answers if a.status == 202 and a.at > back)
    done = folder.done()
    output = worker.output()
    refused_ms = [a.seconds * 1000 for a in refused]
    copies_skipped = sum(skipped(output).values())
    figures = {
        "median_503_ms": round(median(refused_ms)),
        "max_503_ms": round(max(refused_ms)),
        "accepted": len(accepted),
        "copies_skipped": copies_skipped,
    }
    for name, value in figures.items():
        record("reliability", f"broker_restart.{name}.{example.broker.name}", value)
    print(
        f"\n[{example.broker.label}] restart under traffic, broker down "
        f"{back - stopped:.1f} s: {len(answers)} requests, "
        f"{len(accepted)} x 202, {len(refused)} x 503 (median "
        f"{median(refused_ms):.0f} ms, max {max(refused_ms):.0f} ms); first 202 "
        f"{first_202 - back:.1f} s after the broker was back; {len(accepted)} of "
        f"{len(accepted)} accepted imports processed, plus "
        f"{len(done - accepted)} answered 503 but queued; "
        f"{copies_skipped} redelivered copies skipped, "
        f"{sum(runs(output).values()) - len(done)} of them after they "
        "had started"
    )
    assert traffic.errors == []
    assert "Traceback" not in web.output()
    assert Counter(a.status for a in answers).keys() <= {202, 503}
    assert all(json.loads(a.body) == BROKER_UNAVAILABLE for a in refused)
    assert accepted <= done
    # A copy redelivered while its first run was still going starts too; it
    # then finds the done mark at mark_done() and writes nothing. So count
    # commits and rows, not starts.
    assert imported(output).most_common(1)[0][1] == 1, "an import committed twice"
    assert folder.rows() == dict.fromkeys(done, 2), (
        "an import's rows were written twice"
    )
