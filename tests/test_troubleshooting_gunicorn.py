"""docs/troubleshooting_tasks.rst, 'Requests fail with FileNotFoundError under gunicorn'.

A message sent while the app is imported, under gunicorn's ``--preload``,
opens the broker connection that every forked process then shares.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.examples import Example
from support.figures import record
from support.output import check_shown_output
from support.processes import Process
from support.troubleshooting import (
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_running,  # noqa: F401  (the fixture "running")
    serve,
)


def post_concurrently(port: int, count: int, timeout: float = 5) -> list[int]:
    """POST the guide's numbers ``count`` times at once; the status of each."""

    def post(_: int) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/add", data=b"x=1&y=2", method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0  # No answer: the request hung on the shared connection.

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


SHARED_SOCKET_ERROR = "FileNotFoundError: [Errno 2] No such file or directory"


@pytest.mark.measure
def test_preload_and_a_send_at_import_hang_requests_on_rabbitmq(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    [command] = example.commands("preload")
    if example.broker.name == "redis":
        web, port = serve(example, command, tmp_path, running)
        statuses = post_concurrently(port, 30) + post_concurrently(port, 30)
        # redis-py notices the fork and opens a connection per process.
        assert set(statuses) == {202}
        assert "Traceback" not in web.output()
        return

    # The processes race on the shared connection: with 60 requests at once,
    # a start of gunicorn can leave a request hanging. The error needs one
    # process to abort the connection while another still polls it, so it
    # shows in only some starts. So start gunicorn afresh for 20 s, and count
    # the starts, the starts with a hung request, and those with the error.
    # The hang must show, and the error's output must match the page's
    # whenever it shows.
    statuses: list[int] = []
    errors: list[str] = []
    starts = starts_hung = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        web, port = serve(example, command, tmp_path, running)
        answers = post_concurrently(port, 60, timeout=2)
        web.kill_group()
        statuses += answers
        starts += 1
        if 0 in answers:
            starts_hung += 1
        if SHARED_SOCKET_ERROR in web.output():
            errors.append(web.output())
    print(
        f"\n[{example.broker.name}] --preload: {starts} starts, {starts_hung} "
        f"with a hung request, {len(errors)} with the error; "
        f"{len(statuses)} requests, {statuses.count(0)} hung, "
        f"{statuses.count(500)} answered 500"
    )
    record("troubleshooting", "preload.starts", starts)
    record("troubleshooting", "preload.starts_hung", starts_hung)
    record("troubleshooting", "preload.starts_with_error", len(errors))
    assert 0 in statuses, "no request hung on the shared connection"
    for output in errors:
        check_shown_output(
            example.path / "preload.txt",
            output,
            start="ERROR in app",
            end="FileNotFoundError",
        )

    # The fix: the Procfile's line, without --preload.
    web, port = serve(example, example.procfile_command("web"), tmp_path, running)
    statuses = post_concurrently(port, 30) + post_concurrently(port, 30)
    assert set(statuses) == {202}
    assert "Traceback" not in web.output()
