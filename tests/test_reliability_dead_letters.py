"""docs/outages.rst, 'Replay the dead letters': a poison message."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from support.examples import Example
from support.reliability import (
    QUEUE,
    Folder,
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


def test_poison_message_ends_in_the_dead_letters_and_replays_once_fixed(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The example's retry budget, with backoffs of 0.1-0.4 s instead of minutes.
    folder = Folder(
        tmp_path,
        database,
        env={
            "IMPORT_MAX_RETRIES": "2",
            "IMPORT_MIN_BACKOFF_MS": "100",
            "IMPORT_MAX_BACKOFF_MS": "400",
        },
    )
    import_id = f"poison-{uuid.uuid4().hex}"
    worker = start(example, "worker", folder, "worker")
    try:
        sent = time.monotonic()
        send(example, monkeypatch, import_id, "late.csv")
        watch(
            [worker],
            lambda: example.broker.dead(QUEUE) == 1,
            timeout=30,
            what="a dead letter",
        )
        dead_after = time.monotonic() - sent
        assert runs(worker.output())[import_id] == 3, "1 attempt + 2 retries"
        assert example.broker.pending(QUEUE) == 0

        listing = guide_command(example, "list-dead", folder)
        assert f"import_file('{import_id}', 'late.csv') retries=2" in listing
        assert "FileNotFoundError" in listing
        assert listing.endswith(f"1 dead letter(s) in {QUEUE}.\n")
        assert example.broker.dead(QUEUE) == 1, "listing must not remove them"

        # Replayed before the fix: it fails 3 more times, so it got a new budget.
        replayed = guide_command(example, "replay", folder)
        assert replayed == f"Replayed 1 dead letter(s) to {QUEUE}.\n"
        watch(
            [worker],
            lambda: (
                runs(worker.output())[import_id] == 6
                and example.broker.dead(QUEUE) == 1
            ),
            timeout=30,
            what="the replayed message to fail its 3 attempts",
        )

        # The fix: the file arrives. Now the replay imports it.
        (folder.uploads / "late.csv").write_text("sku,quantity\nA-1,3\n")
        guide_command(example, "replay", folder)
        watch(
            [worker],
            lambda: imported(worker.output())[import_id],
            timeout=30,
            what="the replayed import",
        )
        assert stop_worker(worker) == 0
    finally:
        worker.kill_group()

    print(
        f"\n[{example.broker.label}] poison message dead-lettered after "
        f"{dead_after:.1f} s (3 attempts, backoffs 0.1-0.4 s); replayed with a "
        f"new budget, then imported once the file existed"
    )
    assert example.broker.dead(QUEUE) == 0
    assert example.broker.pending(QUEUE) == 0
    assert folder.done() == {import_id}
    assert runs(worker.output())[import_id] == 7


def guide_command(example: Example, section: str, folder: Folder) -> str:
    """Run the guide's one command of ``section`` in the example folder; its output."""
    [command] = example.commands(section)
    result = subprocess.run(
        shlex.split(command),
        cwd=example.path,
        env={
            **os.environ,
            example.broker.url_variable: example.broker.url,
            **folder.env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
