"""docs/idempotency.rst, 'Run it': the page's requests against gunicorn.

The same request twice imports the file once; the key reused for another
file answers 422 ('Let clients retry safely' explains why).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support.examples import Example
from support.processes import port_is_open
from support.reliability import (
    QUEUE,
    WEB_ADDRESS,
    Client,
    Folder,
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
    imported,
    skipped,
    start,
    stop_worker,
    watch,
)

pytestmark = pytest.mark.reliability


def guide_script(example: Example, section: str, port: int, cwd: Path) -> str:
    """Run the guide's commands of ``section`` against gunicorn on ``port``; stdout."""
    script = "\n".join(["set -e", *example.commands(section)])
    assert f"http://{WEB_ADDRESS}/imports" in script
    return subprocess.run(
        ["bash", "-c", script.replace(WEB_ADDRESS, f"127.0.0.1:{port}")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


@pytest.mark.smoke
def test_the_guides_request_sent_twice_imports_the_file_once(
    example: Example, tmp_path: Path, database: str
) -> None:
    folder = Folder(tmp_path, database)
    worker = start(example, "worker", folder, "worker")
    web = start(example, "web", folder, "web")
    port = int(folder.env["PORT"])
    try:
        watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
        # The script writes uploads/orders.csv in tmp_path, the uploads folder.
        # As the page says, the second request comes once the worker has
        # logged the import: sent at once, its script would rewrite the file
        # while the worker reads it.
        answers = [guide_script(example, "request", port, tmp_path)]
        watch(
            [worker],
            lambda: imported(worker.output())["5b7e0c2a"],
            timeout=20,
            what="the import",
        )
        answers.append(guide_script(example, "request", port, tmp_path))
        watch(
            [worker],
            lambda: skipped(worker.output())["5b7e0c2a"],
            timeout=20,
            what="the second copy to be skipped",
        )
        assert stop_worker(worker) == 0
    finally:
        web.kill_group()
        worker.kill_group()

    assert [json.loads(answer) for answer in answers] == [{"import_id": "5b7e0c2a"}] * 2
    assert imported(worker.output()) == {"5b7e0c2a": 1}
    assert "Import 5b7e0c2a: imported 2 rows from orders.csv." in worker.output()
    assert folder.rows() == {"5b7e0c2a": 2}


def test_a_key_reused_for_another_file_answers_422_and_queues_nothing(
    example: Example, tmp_path: Path, database: str
) -> None:
    folder = Folder(tmp_path, database)
    web = start(example, "web", folder, "web")
    port = int(folder.env["PORT"])
    client = Client(port)
    try:
        watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
        accepted = guide_script(example, "request", port, tmp_path)
        refused = guide_script(example, "reuse-key", port, tmp_path)
        # The same key, sent again for each file: only the first file's passes.
        statuses = [
            client.post("5b7e0c2a", name).status
            for name in ("prices.csv", "orders.csv", "prices.csv")
        ]
    finally:
        client.close()
        web.kill_group()

    print(
        f"\n[{example.broker.label}] key 5b7e0c2a reused for another file: "
        f"{refused.strip()}"
    )
    assert json.loads(accepted) == {"import_id": "5b7e0c2a"}
    assert json.loads(refused) == {
        "error": "Idempotency-Key '5b7e0c2a' was used for another file."
    }
    assert statuses == [422, 202, 422]
    # The guide's request and its repeat; the worker would skip the repeat.
    assert example.broker.pending(QUEUE) == 2
