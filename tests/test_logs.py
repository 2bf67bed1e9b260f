"""docs/logs.rst: every log line of a message's life carries the message's id.

The Procfile's app and worker run for real; the page's curl queues an
import that fails, and a test feed server gives one that works. Each line
the app logs about the message, and each line the worker logs while it
processes it, carries its id: in text, and as a field in JSON.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.examples import Example, example_params, with_empty_queues
from support.feeds import feed_server
from support.output import unglue
from support.processes import Process, free_port, port_is_open, wait_for

QUEUE = "feeds"
# One retry, 0.1 to 0.2 s later: the failing import ends in a second.
FAST_RETRIES = {
    "FEED_MAX_RETRIES": "1",
    "FEED_MIN_BACKOFF_MS": "100",
    "FEED_MAX_BACKOFF_MS": "200",
}
# A worker thread's line, in the example's text format: its message id field.
THREAD_LINE = re.compile(
    r"^\[[^]]+\] \[PID \d+\] \[Thread-\d+\] \[[^]]+\] \[\w+\] \[([^]]+)\] "
)


@pytest.fixture(name="example", params=example_params("logs"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.fixture(name="feed_url")
def fixture_feed_url() -> Iterator[str]:
    with feed_server(200) as port:
        yield f"http://127.0.0.1:{port}/feed.xml"


def run(example: Example, tmp_path: Path, feed_url: str, env: dict[str, str]) -> tuple:
    """Queue the page's failing import and one that works; the ids and both logs."""
    env = {example.broker.url_variable: example.broker.url, **FAST_RETRIES, **env}
    port = free_port()
    worker = Process(
        example.procfile_command("worker"), cwd=example.path, env=env,
        log=tmp_path / "worker.log",
    )  # fmt: skip
    web = Process(
        example.procfile_command("web"), cwd=example.path,
        env={**env, "FLASK_RUN_PORT": str(port)}, log=tmp_path / "web.log",
    )  # fmt: skip
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the app")
        [curl] = [c for c in example.commands("request") if c.startswith("curl")]
        here = curl.replace("127.0.0.1:5000", f"127.0.0.1:{port}")
        failing = request(here)
        working = request(here.replace("http://127.0.0.1:9/feed.xml", feed_url))
        wait_for(
            lambda: (
                "Retries exceeded" in worker.output() and "Imported" in worker.output()
            ),
            timeout=20,
            what="both imports to end",
        )
        assert worker.terminate(timeout=30) == 0
    finally:
        worker.kill_group()
        web.kill_group()
    return failing, working, web.output(), worker.output()


def request(curl: str) -> str:
    answer = subprocess.run(
        curl.split(), capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return json.loads(answer)["message_id"]


@pytest.mark.smoke
def test_every_line_about_a_message_carries_its_id(
    example: Example, tmp_path: Path, feed_url: str
) -> None:
    failing, working, web_log, worker_log = run(example, tmp_path, feed_url, {})

    for message_id in (failing, working):
        assert f"[INFO] [{message_id}] Queued import_feed." in web_log
    lines = unglue(worker_log.splitlines())
    ids = [m.group(1) for line in lines if (m := THREAD_LINE.match(line))]
    # Two failed attempts and the end of their retries; the working import.
    assert ids.count(failing) == 4, worker_log
    assert ids.count(working) == 1, worker_log
    assert f"[{working}] Imported 11 bytes." in worker_log
    # Every other line of a worker thread is outside any message.
    assert set(ids) == {failing, working}


def test_json_logs_give_the_id_a_field_of_its_own(
    example: Example, tmp_path: Path, feed_url: str
) -> None:
    [export] = example.commands("json")
    name, _, value = export.removeprefix("export ").partition("=")
    failing, working, web_log, worker_log = run(
        example, tmp_path, feed_url, {name: value}
    )

    web = [json.loads(line) for line in web_log.splitlines() if line.startswith("{")]
    queued = [r["message_id"] for r in web if r["message"] == "Queued import_feed."]
    assert queued == [failing, working]
    records, text = [], []
    for line in unglue(worker_log.splitlines()):
        if line.startswith("{"):
            records.append(json.loads(line))
        elif line.strip():
            text.append(line)
    by_id = [r["message_id"] for r in records if r["message_id"] != "-"]
    assert by_id.count(failing) == 4 and by_id.count(working) == 1
    # The traceback of a failed attempt is a field of its line, not lines.
    assert all(
        "Traceback" in r["exc_info"]
        for r in records
        if "Failed to process" in r["message"]
    )
    # Only Dramatiq's main process, which never imports tasks.py, writes text.
    assert text and all("[dramatiq.MainProcess]" in line for line in text), text
