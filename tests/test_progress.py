"""docs/progress.rst: a report's progress over HTTP and in a browser, and
cancelling a report that is queued or running, on each broker.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright

from support.examples import (
    Example,
    example_params,
    location_header,
    run_against_flask,
    with_redis_and_empty_queues,
)
from support.output import check_shown_output
from support.processes import Process, wait_for
from support.site_server import fixture_browser  # noqa: F401  (the fixture "browser")

QUEUE = "progress"


@pytest.fixture(name="example", params=example_params("progress"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    # Both variants keep the progress in Redis.
    yield from with_redis_and_empty_queues(Example(request.param), queues=(QUEUE,))


class Running:
    """The Procfile's web process on ``port``, and its worker once started."""

    def __init__(self, example: Example, tmp_path: Path, port: int) -> None:
        self.example = example
        self.tmp_path = tmp_path
        self.port = port
        self.worker: Process | None = None

    def start_worker(self) -> None:
        self.worker = self.example.start("worker", self.tmp_path)
        self.worker.wait_for_output("is ready for action", timeout=20)

    def run(self, command: str) -> str:
        return run_against_flask(command, self.port)

    def progress(self, location: str) -> dict:
        return json.loads(self.run(f"curl http://127.0.0.1:5000{location}"))


@pytest.fixture(name="running")
def fixture_running(example: Example, tmp_path: Path) -> Iterator[Running]:
    with example.web_server(tmp_path) as port:
        running = Running(example, tmp_path, port)
        yield running
        if running.worker is not None:
            running.worker.kill_group()


def post_report(running: Running, pages: int) -> str:
    """Queue a report with the page's request; the task's location."""
    [post] = running.example.commands("request")
    answer = running.run(post.replace("pages=10", f"pages={pages}"))
    return location_header(answer)


@pytest.mark.smoke
def test_progress_goes_from_queued_to_done_over_http(
    example: Example, running: Running
) -> None:
    [post] = example.commands("request")
    answer = running.run(post)
    location = location_header(answer)
    [status] = example.commands("status")
    shown = re.search(r"/tasks/\S+", status).group()
    check_shown_output(
        example.path / "output.txt",
        answer,
        paths={location.removeprefix("/tasks/"): shown.removeprefix("/tasks/")},
    )
    status = status.replace(shown, location)
    check_shown_output(example.path / "queued.txt", running.run(status))

    running.start_worker()
    seen = []

    def done() -> bool:
        seen.append(running.progress(location))
        return seen[-1]["state"] == "done"

    wait_for(done, timeout=20, what="the report to be done")
    check_shown_output(example.path / "done.txt", running.run(status))
    # The pages done only grow, and the running states show some of them.
    counts = [progress["done"] for progress in seen]
    assert counts == sorted(counts)
    assert len({p["done"] for p in seen if p["state"] == "running"}) >= 3, seen


def test_cancel_stops_a_running_report_between_two_pages(
    example: Example, running: Running
) -> None:
    running.start_worker()
    location = post_report(running, 50)
    wait_for(
        lambda: running.progress(location)["done"] >= 2,
        timeout=20,
        what="two pages done",
    )
    [cancel] = example.commands("cancel")
    shown = re.search(r"/tasks/\S+/cancel", cancel).group()
    assert running.run(cancel.replace(shown, f"{location}/cancel")) == (
        '{"state":"cancelling"}\n'
    )
    wait_for(
        lambda: running.progress(location)["state"] == "cancelled",
        timeout=5,
        what="the report to stop",
    )
    progress = running.progress(location)
    assert 2 <= progress["done"] < 50
    # It stays stopped, and a second cancel says why not.
    again = running.run(f"curl --request POST http://127.0.0.1:5000{location}/cancel")
    assert again == (
        f'{{"error":"Task {location.removeprefix("/tasks/")!r} has ended: '
        'it is cancelled."}\n'
    )


def test_a_report_cancelled_while_queued_never_starts(
    example: Example, running: Running
) -> None:
    location = post_report(running, 5)
    running.run(f"curl --request POST http://127.0.0.1:5000{location}/cancel")
    assert running.progress(location)["state"] == "cancelling"
    running.start_worker()
    wait_for(
        lambda: running.progress(location)["state"] == "cancelled",
        timeout=10,
        what="the queued report to be cancelled",
    )
    assert running.progress(location)["done"] == 0


def test_the_page_shows_the_progress_bar_fill_up_then_the_report_and_cancels(
    example: Example, running: Running, browser: playwright.Browser
) -> None:
    running.start_worker()
    context = browser.new_context()
    page = context.new_page()
    status = page.get_by_role("status")
    bar = page.get_by_role("progressbar", name="Pages done")
    try:
        page.goto(f"http://127.0.0.1:{running.port}/static/index.html")
        page.get_by_label("Pages", exact=True).fill("10")
        make = page.get_by_role("button", name="Make the report")
        make.click()
        # One report at a time: the button waits for this one to end.
        assert make.is_disabled()
        # Read the bar as the reader sees it, until the report shows.
        values = []
        for _ in range(200):
            shown = status.inner_text()
            values.append(bar.evaluate("bar => [bar.value, bar.max]"))
            if shown == "A report of 10 pages.":
                break
            page.wait_for_timeout(50)
        assert shown == "A report of 10 pages."
        assert values[-1] == [10, 10]
        assert page.locator("#percent").inner_text() == "100 %"

        # A longer report, cancelled from the page once it has begun.
        page.get_by_label("Pages", exact=True).fill("50")
        make.click()
        page.wait_for_function(
            "document.getElementById('status').textContent === 'running'"
            " && document.getElementById('bar').value >= 2"
        )
        page.get_by_role("button", name="Cancel").click()
        page.wait_for_function(
            "document.getElementById('status').textContent === 'cancelled'"
        )
        assert 2 <= bar.evaluate("bar => bar.value") < 50
        assert make.is_enabled()
    finally:
        context.close()
    done = [value for value, _ in values]
    assert done == sorted(done)
    # The page showed the bar at several steps on the way, not only at the end.
    assert len({value for value in done if 0 < value < 10}) >= 3, values


def test_a_report_delivered_again_resumes_where_it_stopped(
    example: Example, running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker died after page 7 of 10: the message comes back, and the
    report goes on from page 7; a copy of an ended report changes nothing."""
    tasks = example.load("tasks", monkeypatch)
    message = tasks.make_report.message(10)
    tasks.record(message.message_id, state="running", done=7, of=10)
    tasks.broker.enqueue(message)
    location = f"/tasks/{message.message_id}"
    running.start_worker()
    seen = []

    def done() -> bool:
        seen.append(running.progress(location))
        return seen[-1]["state"] == "done"

    wait_for(done, timeout=10, what="the report to be done")
    assert min(progress["done"] for progress in seen) >= 7, seen
    ended_at = tasks.progress_redis.hget(tasks.progress_key(message.message_id), "at")
    tasks.broker.enqueue(message)
    wait_for(
        lambda: example.broker.pending(QUEUE) == 0, timeout=10, what="the copy to run"
    )
    progress = tasks.progress_redis.hgetall(tasks.progress_key(message.message_id))
    assert (progress["state"], progress["done"], progress["at"]) == (
        "done",
        "10",
        ended_at,
    )


def test_a_running_report_silent_for_30_s_reads_stalled(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_module = example.load("app", monkeypatch)
    client = app_module.app.test_client()
    task_id = str(uuid.uuid4())
    app_module.record(task_id, state="running", done=3, of=10)
    key = app_module.progress_key(task_id)
    assert client.get(f"/tasks/{task_id}").get_json()["state"] == "running"
    app_module.progress_redis.hset(key, "at", app_module.now() - 31)
    assert client.get(f"/tasks/{task_id}").get_json()["state"] == "stalled"
    # Cancelling a task nobody knows: 404, and no hash made for it.
    unknown = str(uuid.uuid4())
    assert client.post(f"/tasks/{unknown}/cancel").status_code == 404
    assert not app_module.progress_redis.exists(app_module.progress_key(unknown))
    app_module.progress_redis.delete(key)
