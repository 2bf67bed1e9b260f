"""1. Request latency: the view that sends the e-mail vs the one that enqueues it."""

from __future__ import annotations

import asyncio
import http.client
import time
from urllib.parse import urlencode

from benchmark.example import Example
from benchmark.settings import QUEUE, SMTP_DELAY, Counts
from benchmark.stats import summary
from support.processes import free_port, open_files, port_is_open, wait_for


class SlowSMTPHandler:
    """An aiosmtpd handler that takes SMTP_DELAY seconds to accept each e-mail."""

    def __init__(self) -> None:
        self.accepted = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(SMTP_DELAY)
        self.accepted += 1
        return "250 Message accepted for delivery"


def post(port: int, path: str, form: dict[str, str]) -> tuple[int, float]:
    """POST a form over a new HTTP connection; the status and the seconds it took."""
    body = urlencode(form)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    return response.status, time.perf_counter() - started


def timed_posts(
    port: int, path: str, count: int, status: int, budget: float, warm_up: int
) -> list[float]:
    """Up to ``count`` sequential POSTs in at most ``budget`` seconds."""
    form = {"to": "ada@example.com"}
    for _ in range(warm_up):  # Imports, the threads' broker connections.
        post(port, path, form)
    times = []
    stop = time.perf_counter() + budget
    while len(times) < count and time.perf_counter() < stop:
        got, seconds = post(port, path, form)
        if got != status:
            raise RuntimeError(f"POST {path} answered {got}, expected {status}")
        times.append(seconds)
    return times


def measure_requests(example: Example, counts: Counts) -> dict:
    from aiosmtpd.controller import Controller

    handler = SlowSMTPHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    gunicorn_port, dev_port = free_port(), free_port()
    env = {"SMTP_PORT": str(smtp.port)}
    web = example.start(example.web_command(gunicorn_port), "web", env)
    # The quickstart's web command: Flask's development server.
    dev = example.start(
        "flask --app app run", "dev", {**env, "FLASK_RUN_PORT": str(dev_port)}
    )
    try:
        wait_for(
            lambda: port_is_open(gunicorn_port) and port_is_open(dev_port),
            timeout=30,
            what="the web servers",
        )
        inline = timed_posts(
            gunicorn_port, "/welcome/inline", counts.inline, 200, 15, warm_up=2
        )
        before = open_files(web.popen.pid)
        queued = timed_posts(
            gunicorn_port, "/welcome", counts.enqueue_http, 202, 10, warm_up=8
        )
        leaked = (open_files(web.popen.pid) - before) / len(queued)
        before = open_files(dev.popen.pid)
        dev_queued = timed_posts(
            dev_port, "/welcome", counts.dev_server, 202, 10, warm_up=8
        )
        dev_leaked = (open_files(dev.popen.pid) - before) / len(dev_queued)
    finally:
        web.kill_group()
        dev.kill_group()
        smtp.stop()
        example.broker.flush(QUEUE)
    return {
        "inline": summary(inline),
        "enqueue": {**summary(queued), "open_files_per_request": round(leaked, 2)},
        "enqueue_dev_server": {
            **summary(dev_queued),
            "open_files_per_request": round(dev_leaked, 2),
        },
        "smtp_accepted": handler.accepted,
    }
