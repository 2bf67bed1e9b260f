"""examples/performance: the views and actors the benchmark drives, run for real.

These tests check what the Performance page says of the example, not how
fast it is: `nox -s bench` (benchmark/) measures that.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.examples import (
    EXAMPLES,
    Example,
    example_params,
    with_empty_queues,
)
from support.processes import (
    Process,
    broker_connections,
    free_port,
    port_is_open,
    wait_for,
)

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP, Envelope, Session

QUEUE = "bench"
WEB_ADDRESS = "127.0.0.1:8000"  # where the Procfile's gunicorn listens
TO = "ada@example.com"


@pytest.fixture(params=example_params("performance"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


class Mailbox:
    """The e-mails a real SMTP server on 127.0.0.1 accepted, after ``delay`` s each."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.received: list[Envelope] = []

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        await asyncio.sleep(self.delay)
        self.received.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    # Imported here: the lint session collects this module without aiosmtpd.
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


@pytest.fixture
def probe() -> Iterator[socket.socket]:
    """The UDP socket tasks.report_done() reports to."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        yield sock


def receive(probe: socket.socket, token: str) -> float:
    """When the actor reported ``token`` done (its time.time())."""
    got, _, stamp = probe.recv(256).decode().partition(" ")
    assert got == token
    return float(stamp)


def start_web(
    example: Example, tmp_path: Path, env: dict[str, str]
) -> tuple[Process, int]:
    """The Procfile's gunicorn, as written, on a free port instead of 8000."""
    command = example.procfile_command("web")
    assert WEB_ADDRESS in command, "the Procfile's web line binds 127.0.0.1:8000"
    port = free_port()
    web = Process(
        command.replace(WEB_ADDRESS, f"127.0.0.1:{port}"),
        cwd=example.path,
        env={example.broker.url_variable: example.broker.url, **env},
        log=tmp_path / "web.log",
    )
    return web, port


def post(port: int, path: str, to: str = TO) -> tuple[int, dict]:
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--write-out",
            "\n%{http_code}",
            "--data-urlencode",
            f"to={to}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_inline_view_answers_once_the_mail_is_sent_the_queued_one_at_once(
    example: Example, smtp: tuple[Mailbox, int], tmp_path: Path
) -> None:
    mailbox, smtp_port = smtp
    mailbox.delay = 0.5  # The benchmark's slow mail server.
    env = {"SMTP_PORT": str(smtp_port)}
    web, port = start_web(example, tmp_path, env)
    worker = example.start("worker", tmp_path, env=env)
    try:
        wait_for(lambda: port_is_open(port), timeout=20, what="gunicorn")

        started = time.monotonic()
        status, answer = post(port, "/welcome/inline")
        inline_took = time.monotonic() - started
        assert (status, answer) == (200, {"sent_to": TO})
        # The client waited for the mail server: the e-mail is already there.
        assert len(mailbox.received) == 1
        assert inline_took >= 0.5

        # The request the guide shows, sent to this gunicorn.
        [curl] = example.commands("request")
        assert f"http://{WEB_ADDRESS}/welcome" in curl
        started = time.monotonic()
        answer = subprocess.run(
            shlex.split(curl.replace(WEB_ADDRESS, f"127.0.0.1:{port}")),
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        queued_took = time.monotonic() - started
        assert json.loads(answer.stdout)["message_id"]
        assert queued_took < 0.5, "the queued view waited for the mail server"
        # The worker sends the same e-mail, after the answer.
        wait_for(
            lambda: len(mailbox.received) == 2,
            timeout=20,
            what=f"the worker's e-mail; worker output:\n{worker.output()}",
        )
    finally:
        web.kill_group()
        worker.kill_group()
    assert [envelope.rcpt_tos for envelope in mailbox.received] == [[TO], [TO]]
    assert b"Subject: Welcome!" in mailbox.received[1].content


def not_an_address(reason: str) -> str:
    return f"Field 'to' must be an e-mail address: {reason}"


@pytest.mark.parametrize("path", ["/welcome", "/welcome/inline"])
@pytest.mark.parametrize(
    ("to", "error"),
    [
        ("", "Field 'to' is required."),
        (
            "ada",
            not_an_address("An email address must have an @-sign."),
        ),
        (
            f"{TO}, eve@example.com",
            not_an_address(
                "The part after the @-sign contains invalid characters: "
                "',', '@', SPACE."
            ),
        ),
        (
            "a" * 250 + "@x.io",
            not_an_address("The email address is too long (1 character too many)."),
        ),
    ],
    ids=["empty", "no-at", "two-addresses", "too-long"],
)
def test_bad_address_answers_400_sends_and_enqueues_nothing(
    example: Example,
    smtp: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    to: str,
    error: str,
) -> None:
    mailbox, smtp_port = smtp
    monkeypatch.setenv("SMTP_PORT", str(smtp_port))
    app = example.load("app", monkeypatch).app

    response = app.test_client().post(path, data={"to": to})

    assert response.status_code == 400
    assert response.get_json() == {"error": error}
    assert example.broker.pending(QUEUE) == 0
    assert mailbox.received == []


def test_unreachable_mail_server_answers_503_inline(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PORT", str(free_port()))
    app = example.load("app", monkeypatch).app

    response = app.test_client().post("/welcome/inline", data={"to": TO})

    assert response.status_code == 503
    assert response.get_json() == {
        "error": "The mail server is unreachable. Try again later."
    }
    assert example.broker.pending(QUEUE) == 0


@pytest.mark.measure
def test_idle_procfile_worker_starts_each_message_within_100_ms(
    example: Example, probe: socket.socket, tmp_path: Path, monkeypatch
) -> None:
    # An idle Redis worker with Dramatiq's defaults polls every 0.5 to 1 s;
    # the Procfile's worker polls at least every 40 ms.
    tasks = example.load("tasks", monkeypatch)
    port = probe.getsockname()[1]
    worker = example.start("worker", tmp_path)
    try:
        tasks.noop.send(port, "ready")
        receive(probe, "ready")
        for i in range(4):
            # Idle time is what this test is about: after a message, the Redis
            # consumer takes up to 2.3 s to back off to its slowest poll.
            time.sleep(2.3)
            sent = time.time()
            tasks.noop.send(port, f"idle-{i}")
            assert receive(probe, f"idle-{i}") - sent < 0.1
    finally:
        worker.kill_group()


@pytest.mark.smoke
def test_io_actor_reports_after_its_wait(
    example: Example, probe: socket.socket, tmp_path: Path, monkeypatch
) -> None:
    tasks = example.load("tasks", monkeypatch)
    port = probe.getsockname()[1]
    worker = example.start("worker", tmp_path)
    try:
        tasks.noop.send(port, "ready")
        receive(probe, "ready")
        sent = time.time()
        tasks.wait_io.send(port, "io", 0.3)
        assert 0.3 <= receive(probe, "io") - sent < 5
    finally:
        worker.kill_group()


@pytest.mark.parametrize(
    "server", ["gunicorn", "flask run"], ids=["gunicorn", "flask-run"]
)
def test_broker_connections_of_the_web_server_after_30_requests(
    example: Example, tmp_path: Path, server: str
) -> None:
    if server == "gunicorn":
        web, port = start_web(example, tmp_path, {})
    else:
        port = free_port()
        web = Process(
            "flask --app app run",
            cwd=example.path,
            env={
                example.broker.url_variable: example.broker.url,
                "FLASK_RUN_PORT": str(port),
            },
            log=tmp_path / "flask.log",
        )
    try:
        wait_for(lambda: port_is_open(port), timeout=20, what=server)
        for _ in range(30):
            assert post(port, "/welcome")[0] == 202
        connections = broker_connections(web.popen.pid, example.broker.address[1])
    finally:
        web.kill_group()

    if server == "flask run" and example.broker.name == "rabbitmq":
        # A new thread per request, so a new RabbitMQ connection per request
        # (Dramatiq keeps one per thread), never closed: the Performance
        # page's warning.
        assert connections >= 30
    else:
        # gunicorn: 2 workers x 4 threads at most. Redis: a shared pool.
        assert 1 <= connections <= 8


def test_requirements_install_what_the_procfile_runs(example: Example) -> None:
    [install] = [c for c in example.commands("install") if "pip install" in c]
    lines = (example.path / shlex.split(install)[-1]).read_text().split()
    requirements = {line.partition("[")[0] for line in lines}  # No extras.
    for process_type in ("web", "worker"):
        words = shlex.split(example.procfile_command(process_type))
        program = words[2] if words[0] == "env" else words[0]
        assert program in requirements


def test_web_line_is_the_deployment_pages(example: Example) -> None:
    # The page links to Deploy for the gunicorn options: both must agree.
    deployment = Example(EXAMPLES / "deployment" / example.broker.name)
    assert example.procfile_command("web") == deployment.procfile_command("web")
