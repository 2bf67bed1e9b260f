"""Shared by the tests of docs/email.rst (tests/test_email_*.py).

The worker talks to a real SMTP server (aiosmtpd) on 127.0.0.1 that answers
each attempt from a script: a 4xx or a 5xx reply, silence, or acceptance.
The e-mail example's fixture, that server, and the waits that show the
worker's output when they time out.

A test module imports a fixture by its function's name, fixture_example
for the fixture ``example``: a test's parameter named like the import would
shadow it (ruff's F811).
"""

from __future__ import annotations

import email
from collections.abc import Callable, Iterable, Iterator
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.examples import Example, example_params, with_empty_queues
from support.processes import Process, free_port, wait_for

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, Envelope, Session

QUEUE = "email"
TRANSIENT = "451 4.3.0 Mailbox busy, try again later"


@pytest.fixture(name="example", params=example_params("email"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    """The fixture ``example``: each broker's e-mail example, its queue empty."""
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


class ScriptedHandler:
    """An aiosmtpd handler that answers from scripts, then accepts.

    Each RCPT starts one delivery attempt (the example sends to one address).
    The next reply of ``rcpt`` or ``data`` answers that step; once a script
    runs out, the step succeeds. Delivered e-mails are kept in ``delivered``.
    """

    def __init__(self, rcpt: Iterable[str] = (), data: Iterable[str] = ()) -> None:
        self.rcpt_replies = iter(rcpt)
        self.data_replies = iter(data)
        self.attempts = 0
        self.delivered: list[Message] = []

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        self.attempts += 1
        reply = next(self.rcpt_replies, None)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        reply = next(self.data_replies, None)
        if reply:
            return reply
        self.delivered.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


class SMTPServer:
    """A real SMTP server on 127.0.0.1:``port``, started and stopped at will.

    ``options`` go to aiosmtpd's SMTP class: TLS and login settings, say.
    """

    def __init__(
        self, handler: ScriptedHandler, port: int | None = None, **options: object
    ) -> None:
        self.handler = handler
        self.port = port or free_port()
        self.options = options
        self.controller: Controller | None = None

    def start(self) -> SMTPServer:
        # Imported here: the lint session collects this module without aiosmtpd.
        from aiosmtpd.controller import Controller

        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(name="servers")
def fixture_servers() -> Iterator[list[SMTPServer]]:
    """The SMTP servers a test starts; all stopped at its end."""
    started: list[SMTPServer] = []
    yield started
    for server in started:
        server.stop()


def smtp_server(
    servers: list[SMTPServer], handler: ScriptedHandler, **options: object
) -> SMTPServer:
    server = SMTPServer(handler, **options).start()
    servers.append(server)
    return server


def worker_env(port: int, tmp_path: Path, **settings: str) -> dict[str, str]:
    """The example's own settings, with backoffs of 0.1-0.4 s instead of minutes."""
    return {
        "SMTP_PORT": str(port),
        "EMAIL_SENT_DB": str(tmp_path / "sent.sqlite3"),
        "EMAIL_MIN_BACKOFF_MS": "100",
        "EMAIL_MAX_BACKOFF_MS": "400",
        **settings,
    }


def post_welcome(
    example: Example, monkeypatch: pytest.MonkeyPatch, to: str = "ada@example.com"
) -> str:
    """POST /welcome through the example's Flask app; return the e-mail id."""
    app = example.load("app", monkeypatch).app
    response = app.test_client().post("/welcome", data={"to": to})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["email_id"]


def wait_for_showing_output(
    worker: Process, condition: Callable[[], object], *, timeout: float, what: str
) -> None:
    """wait_for(), but a timeout shows the worker's output at that moment."""
    try:
        wait_for(condition, timeout=timeout, what=what)
    except AssertionError as error:
        raise AssertionError(f"{error}. Worker output:\n{worker.output()}") from None


def wait_until_settled(example: Example, worker: Process) -> None:
    """Wait until no message of the queue is left waiting, or being delayed."""
    wait_for_showing_output(
        worker,
        lambda: example.broker.pending(QUEUE) == 0,
        timeout=20,
        what=f"an empty {QUEUE!r} queue",
    )


def wait_for_a_dead_letter(example: Example, worker: Process, timeout: float) -> None:
    """Wait until the queue's dead-letter queue holds one message."""
    wait_for_showing_output(
        worker,
        lambda: example.broker.dead(QUEUE) == 1,
        timeout=timeout,
        what="a dead letter",
    )


def wait_for_last_word(worker: Process) -> None:
    """Wait for the worker to log that it gave up: its log reaches the file late."""
    wait_for_showing_output(
        worker,
        lambda: (
            "Aborting message" in worker.output()
            or "Retries exceeded" in worker.output()
        ),
        timeout=10,
        what="the worker to give up",
    )
