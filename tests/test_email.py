"""examples/email: send e-mail from a worker, retry what can pass, send each once.

The worker talks to a real SMTP server (aiosmtpd) on 127.0.0.1 that answers
each attempt from a script: a 4xx or a 5xx reply, silence, or acceptance.
"""

from __future__ import annotations

import email
import itertools
import json
import re
import shlex
import socket
import ssl
import subprocess
import uuid
from collections.abc import Callable, Iterable, Iterator
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.examples import (
    BROKER_UNAVAILABLE,
    ROOT,
    Example,
    example_params,
    run_against_flask,
    with_empty_queues,
)
from support.processes import Process, free_port, port_is_open, wait_for

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

QUEUE = "email"
DOCS = ROOT / "docs"
TRANSIENT = "451 4.3.0 Mailbox busy, try again later"
PERMANENT = "550 5.1.1 No such user here"


@pytest.fixture(params=example_params("email"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
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


@pytest.fixture
def servers() -> Iterator[list[SMTPServer]]:
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


def watch(
    worker: Process, condition: Callable[[], object], *, timeout: float, what: str
) -> None:
    """wait_for(), but a timeout shows the worker's output at that moment."""
    try:
        wait_for(condition, timeout=timeout, what=what)
    except AssertionError as error:
        raise AssertionError(f"{error}. Worker output:\n{worker.output()}") from None


def wait_until_settled(example: Example, worker: Process) -> None:
    """Wait until no message of the queue is left waiting, or being delayed."""
    watch(
        worker,
        lambda: example.broker.pending(QUEUE) == 0,
        timeout=20,
        what=f"an empty {QUEUE!r} queue",
    )


def wait_for_a_dead_letter(example: Example, worker: Process, timeout: float) -> None:
    """Wait until the queue's dead-letter queue holds one message."""
    watch(
        worker,
        lambda: example.broker.dead(QUEUE) == 1,
        timeout=timeout,
        what="a dead letter",
    )


def wait_for_last_word(worker: Process) -> None:
    """Wait for the worker to log that it gave up: its log reaches the file late."""
    watch(
        worker,
        lambda: (
            "Aborting message" in worker.output()
            or "Retries exceeded" in worker.output()
        ),
        timeout=10,
        what="the worker to give up",
    )


def test_mail_is_delivered_exactly_once_after_two_4xx_replies(
    example: Example,
    servers: list[SMTPServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    smtp = smtp_server(servers, ScriptedHandler(data=[TRANSIENT, TRANSIENT]))
    worker = example.start("worker", tmp_path, env=worker_env(smtp.port, tmp_path))
    try:
        email_id = post_welcome(example, monkeypatch)

        watch(
            worker,
            lambda: smtp.handler.delivered,
            timeout=30,
            what="the e-mail",
        )
        worker.wait_for_output(f"Sent e-mail {email_id}", timeout=10)
        wait_until_settled(example, worker)
    finally:
        worker.kill_group()

    assert smtp.handler.attempts == 3
    [mail] = smtp.handler.delivered
    assert mail["To"] == "ada@example.com"
    assert mail["Message-ID"] == f"<{email_id}@example.com>"
    assert worker.output().count("Retrying message") == 2
    assert example.broker.dead(QUEUE) == 0


@pytest.mark.parametrize(
    ("failure", "logged"),
    [("refused", "ConnectionRefusedError"), ("timeout", "TimeoutError")],
)
def test_unreachable_smtp_server_is_retried_until_it_answers(
    example: Example,
    servers: list[SMTPServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
    logged: str,
) -> None:
    port = free_port()
    silent = socket.socket()
    if failure == "timeout":
        # Accepts TCP connections (the kernel does) but never says hello.
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        silent.bind(("127.0.0.1", port))
        silent.listen()
    env = worker_env(port, tmp_path, SMTP_TIMEOUT="0.5")
    worker = example.start("worker", tmp_path, env=env)
    try:
        email_id = post_welcome(example, monkeypatch)
        worker.wait_for_output("Retrying message", timeout=30)
        assert logged in worker.output()

        silent.close()
        smtp = SMTPServer(ScriptedHandler(), port=port)
        servers.append(smtp.start())
        worker.wait_for_output(f"Sent e-mail {email_id}", timeout=30)
        wait_until_settled(example, worker)
    finally:
        silent.close()
        worker.kill_group()

    assert len(smtp.handler.delivered) == 1
    assert example.broker.dead(QUEUE) == 0


def test_5xx_reply_dead_letters_the_message_after_one_attempt(
    example: Example,
    servers: list[SMTPServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    smtp = smtp_server(servers, ScriptedHandler(rcpt=itertools.repeat(PERMANENT)))
    worker = example.start("worker", tmp_path, env=worker_env(smtp.port, tmp_path))
    try:
        email_id = post_welcome(example, monkeypatch, to="nobody@example.com")

        wait_for_a_dead_letter(example, worker, timeout=30)
        assert example.broker.pending(QUEUE) == 0
        wait_for_last_word(worker)
    finally:
        worker.kill_group()

    assert smtp.handler.attempts == 1
    assert not smtp.handler.delivered
    output = worker.output()
    assert "Aborting message" in output
    assert f"Not retrying e-mail {email_id} to nobody@example.com" in output
    assert "550" in output and "No such user here" in output
    assert "Retrying message" not in output

    # The command the guide gives to count dead letters shows this one.
    [command] = example.commands("dead-letters")
    assert command.startswith(f"docker exec {example.broker.name} ")
    # Run here, in the test's namespace (a vhost or a database of its own).
    here = example.broker.cli_command(shlex.split(command)[3:])
    shown = subprocess.run(
        here, capture_output=True, text=True, timeout=30, check=True
    ).stdout
    if example.broker.name == "rabbitmq":
        assert re.search(rf"^{QUEUE}\.XQ\s+1$", shown, flags=re.MULTILINE), shown
    else:
        assert shown.strip() == "1"


def test_transient_failures_end_in_the_dead_letter_queue_after_max_retries(
    example: Example,
    servers: list[SMTPServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    smtp = smtp_server(servers, ScriptedHandler(data=itertools.repeat(TRANSIENT)))
    env = worker_env(smtp.port, tmp_path, EMAIL_MAX_RETRIES="2")
    worker = example.start("worker", tmp_path, env=env)
    try:
        post_welcome(example, monkeypatch)

        wait_for_a_dead_letter(example, worker, timeout=30)
        assert example.broker.pending(QUEUE) == 0
        wait_for_last_word(worker)
    finally:
        worker.kill_group()

    # The first attempt and 2 retries.
    assert smtp.handler.attempts == 3
    assert not smtp.handler.delivered
    assert "Retries exceeded" in worker.output()


def test_redelivered_message_sends_no_second_email_even_after_a_restart(
    example: Example,
    servers: list[SMTPServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    smtp = smtp_server(servers, ScriptedHandler())
    env = worker_env(smtp.port, tmp_path)
    tasks = example.load("tasks", monkeypatch)
    # A redelivered message is the same message again: same id, same arguments.
    email_id = uuid.uuid4().hex
    message = tasks.send_email.message(email_id, "ada@example.com", "Hi", "Hello")

    first = example.start("worker", tmp_path, env=env)
    try:
        tasks.broker.enqueue(message)
        first.wait_for_output(f"Sent e-mail {email_id}", timeout=20)
        assert first.terminate(timeout=15) == 0
    finally:
        first.kill_group()

    second = example.start("worker", tmp_path, env=env)
    try:
        tasks.broker.enqueue(message)
        watch(
            second,
            lambda: "was sent before" in second.output() or smtp.handler.attempts > 1,
            timeout=20,
            what="the second copy",
        )
        wait_until_settled(example, second)
    finally:
        second.kill_group()

    assert len(smtp.handler.delivered) == 1
    assert smtp.handler.attempts == 1
    assert f"E-mail {email_id} was sent before; skipping this copy." in second.output()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A test authority's certificate, and a server certificate it signed for
    127.0.0.1 with that server's key: (authority, server, key)."""
    authority, authority_key = tmp_path / "ca.pem", tmp_path / "ca.key"
    server, key = tmp_path / "server.pem", tmp_path / "server.key"
    extensions = tmp_path / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    csr = tmp_path / "server.csr"
    # A new 2048-bit RSA key, unencrypted, written to the file that follows.
    new_key = ["-newkey", "rsa:2048", "-nodes", "-keyout"]
    authority_only = "basicConstraints=critical,CA:TRUE"
    signs = "keyUsage=critical,keyCertSign"
    for command in (
        ["req", "-x509", "-days", "1", "-subj", "/CN=Test-CA", "-addext"]
        + [
            authority_only,
            "-addext",
            signs,
            *new_key,
            authority_key,
            "-out",
            authority,
        ],
        ["req", "-new", "-subj", "/CN=127.0.0.1", *new_key, key, "-out", csr],
        ["x509", "-req", "-days", "1", "-in", csr, "-extfile", extensions]
        + [
            "-CA",
            authority,
            "-CAkey",
            authority_key,
            "-CAcreateserial",
            "-out",
            server,
        ],
    ):
        subprocess.run(["openssl", *map(str, command)], capture_output=True, check=True)
    return authority, server, key


class Logins:
    """An aiosmtpd authenticator that accepts one user and keeps every try."""

    def __init__(self, username: str, password: str) -> None:
        self.expected = (username.encode(), password.encode())
        self.tries: list[tuple[str, bytes, bool]] = []

    def __call__(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        assert isinstance(auth_data, LoginPassword)
        given = (auth_data.login, auth_data.password)
        self.tries.append((mechanism, auth_data.login, session.ssl is not None))
        # handled=False: aiosmtpd then sends the reply, 235 or 535.
        return AuthResult(success=given == self.expected, handled=False)


@pytest.mark.parametrize(
    ("password", "delivered"), [("s3cret", True), ("wrong", False)], ids=str
)
def test_relay_login_happens_over_starttls_and_a_wrong_password_is_permanent(
    example: Example,
    servers: list[SMTPServer],
    certificate: tuple[Path, Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    delivered: bool,
) -> None:
    authority, server_certificate, key = certificate
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(server_certificate, key)
    logins = Logins("mailer", "s3cret")
    # Like a real relay: no mail before STARTTLS, and no mail without a login.
    smtp = smtp_server(
        servers,
        ScriptedHandler(),
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        authenticator=logins,
    )
    env = worker_env(
        smtp.port,
        tmp_path,
        SMTP_STARTTLS="1",
        SMTP_USERNAME="mailer",
        SMTP_PASSWORD=password,
        # Python's default context trusts the test authority through this.
        SSL_CERT_FILE=str(authority),
    )
    worker = example.start("worker", tmp_path, env=env)
    try:
        email_id = post_welcome(example, monkeypatch)
        if delivered:
            worker.wait_for_output(f"Sent e-mail {email_id}", timeout=20)
            wait_until_settled(example, worker)
        else:
            wait_for_a_dead_letter(example, worker, timeout=20)
            wait_for_last_word(worker)
    finally:
        worker.kill_group()

    # The password only ever crossed the encrypted connection. smtplib tries
    # each mechanism the server offers until one works.
    assert logins.tries, "no login"
    assert {(login, tls) for _, login, tls in logins.tries} == {(b"mailer", True)}
    if delivered:
        assert len(logins.tries) == 1
    assert len(smtp.handler.delivered) == int(delivered)
    if not delivered:
        assert "535" in worker.output()
        assert "Retrying message" not in worker.output()


def test_a_server_without_starttls_dead_letters_the_message_after_one_attempt(
    example: Example,
    servers: list[SMTPServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A relay set up without TLS: a retry meets the same server.
    smtp = smtp_server(servers, ScriptedHandler())
    env = worker_env(smtp.port, tmp_path, SMTP_STARTTLS="1")
    worker = example.start("worker", tmp_path, env=env)
    try:
        email_id = post_welcome(example, monkeypatch)
        wait_for_a_dead_letter(example, worker, timeout=20)
        wait_for_last_word(worker)
    finally:
        worker.kill_group()

    output = worker.output()
    assert f"Not retrying e-mail {email_id}" in output
    assert "STARTTLS extension not supported by server" in output
    assert "Retrying message" not in output
    assert not smtp.handler.delivered


def test_a_username_without_starttls_stops_the_worker_at_start_up(
    example: Example, tmp_path: Path
) -> None:
    env = worker_env(1, tmp_path, SMTP_USERNAME="mailer", SMTP_PASSWORD="s3cret")
    worker = example.start("worker", tmp_path, env=env)
    try:
        exit_code = worker.popen.wait(timeout=30)
    finally:
        worker.kill_group()

    assert exit_code != 0
    assert "RuntimeError: SMTP_USERNAME is set: set SMTP_STARTTLS=1 as well." in (
        worker.output()
    )


def not_an_address(reason: str) -> str:
    return f"Field 'to' must be an e-mail address: {reason}"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "Field 'to' is required."),
        ({"to": "  "}, "Field 'to' is required."),
        ({"to": "ada"}, not_an_address("An email address must have an @-sign.")),
        (
            {"to": "ada@localhost"},
            not_an_address(
                "The part after the @-sign is not valid. It should have a period."
            ),
        ),
        (
            {"to": "ada@example.com, bob@example.com"},
            not_an_address(
                "The part after the @-sign contains invalid characters: "
                "',', '@', SPACE."
            ),
        ),
        (
            {"to": "ada@example.com\nBcc: bob@example.com"},
            not_an_address(
                "The part after the @-sign contains invalid characters: "
                "':', '@', SPACE, U+000A."
            ),
        ),
        (
            {"to": "Ada <ada@example.com>"},
            not_an_address(
                "A display name and angle brackets around the email address "
                "are not permitted here."
            ),
        ),
        (
            {"to": "ü@example.com"},
            not_an_address(
                "Internationalized characters before the @-sign are not supported: 'ü'."
            ),
        ),
        (
            {"to": "..@-.-"},
            not_an_address(
                "An email address cannot have a period immediately before the @-sign."
            ),
        ),
        (
            # The To: header would read "eve@evil.test"@example.com.
            {"to": "=?utf-8?q?eve=40evil.test?=@example.com"},
            "Field 'to' must be a plain address, got '=?utf-8?q?eve=40evil'.",
        ),
        (
            {"to": "a" * 243 + "@example.com"},
            not_an_address("The email address is too long (1 character too many)."),
        ),
    ],
    ids=[
        "empty",
        "blank",
        "no-at",
        "no-dot",
        "two",
        "header",
        "name",
        "non-ascii",
        "dots",
        "encoded-word",
        "long",
    ],
)
def test_bad_input_answers_400_and_enqueues_nothing(
    example: Example,
    monkeypatch: pytest.MonkeyPatch,
    form: dict[str, str],
    error: str,
) -> None:
    app = example.load("app", monkeypatch).app

    response = app.test_client().post("/welcome", data=form)

    assert response.status_code == 400
    assert response.get_json() == {"error": error}
    assert example.broker.pending(QUEUE) == 0


def test_valid_address_enqueues_exactly_one_message(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = example.load("app", monkeypatch).app

    response = app.test_client().post(
        "/welcome", data={"to": " ada.lovelace+news@mail.example.org "}
    )

    assert response.status_code == 202
    assert re.fullmatch(r"[0-9a-f]{32}", response.get_json()["email_id"])
    assert example.broker.pending(QUEUE) == 1


def test_unreachable_broker_answers_503_with_one_clear_line(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = free_port()
    scheme = "amqp" if example.broker.name == "rabbitmq" else "redis"
    monkeypatch.setenv(example.broker.url_variable, f"{scheme}://127.0.0.1:{closed}")
    app = example.load("app", monkeypatch).app

    response = app.test_client().post("/welcome", data={"to": "ada@example.com"})

    assert response.status_code == 503
    assert response.get_json() == BROKER_UNAVAILABLE


def retry_schedule_minutes(
    monkeypatch: pytest.MonkeyPatch, retries: int, min_backoff: int, max_backoff: int
) -> tuple[float, float]:
    """The shortest and longest total wait, in minutes, over ``retries`` retries.

    Dramatiq's compute_backoff() draws a factor of 1 to 2; a wait that then
    exceeds max_backoff becomes a second draw of 50 to 100% of max_backoff.
    Each wait is shortest or longest at one of the four extreme draws.
    """
    import dramatiq.common

    shortest = longest = 0.0
    for retry in range(retries):
        waits = []
        for draws in itertools.product((1.0, 2.0), (0.5, 1.0)):
            values = iter(draws)
            draw = lambda low, high, values=values: next(values)
            monkeypatch.setattr(dramatiq.common, "uniform", draw)
            _, wait = dramatiq.common.compute_backoff(
                retry, factor=min_backoff, max_backoff=max_backoff
            )
            waits.append(wait)
        shortest += min(waits) / 60_000
        longest += max(waits) / 60_000
    return shortest, longest


def test_example_schedule_gives_up_after_37_5_to_75_minutes(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("EMAIL_MAX_RETRIES", "EMAIL_MIN_BACKOFF_MS", "EMAIL_MAX_BACKOFF_MS"):
        monkeypatch.delenv(name, raising=False)
    options = example.load("tasks", monkeypatch).send_email.options
    assert options["max_retries"] == 8

    schedule = retry_schedule_minutes(
        monkeypatch,
        options["max_retries"],
        options["min_backoff"],
        options["max_backoff"],
    )

    # What tasks.py's comment and the guide promise.
    shortest, longest = schedule
    assert f"gives up after {shortest:g} to {longest:g} minutes" in one_line(
        example.path / "tasks.py"
    )
    assert f"After {shortest:g} to {longest:g} minutes the worker gives up" in (
        one_line(DOCS / "email.rst")
    )
    # RabbitMQ drops a consumer that holds a message unacknowledged for 30
    # minutes (consumer_timeout); the worker holds delayed messages that way.
    assert options["max_backoff"] < 30 * 60_000


def test_dramatiq_default_schedule_retries_for_23_to_46_days(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dramatiq.middleware import retries

    defaults = retries.Retries()
    assert defaults.max_retries == 20

    shortest, longest = retry_schedule_minutes(
        monkeypatch, defaults.max_retries, defaults.min_backoff, defaults.max_backoff
    )

    # The guide rounds the days down.
    days = f"about {shortest // (60 * 24):.0f} to {longest // (60 * 24):.0f} days"
    assert days in one_line(DOCS / "email.rst")


def one_line(path: Path) -> str:
    """The file's words on one line, comment marks dropped: prose wraps anywhere."""
    return " ".join(path.read_text().replace("#", " ").split())


def normalize(text: str) -> list[str]:
    """Blank out what changes between runs: date, message id and client port."""
    text = re.sub(r"^Date: .*$", "Date: DATE", text, flags=re.MULTILINE)
    text = re.sub(r"<[0-9a-f]{32}@", "<ID@", text)
    text = re.sub(r"^X-Peer: .*$", "X-Peer: PEER", text, flags=re.MULTILINE)
    return text.splitlines()


def test_welcome_email_reaches_the_local_smtp_server(
    example: Example, tmp_path: Path
) -> None:
    install, serve = example.commands("smtp-server")
    assert install == "python -m pip install aiosmtpd"  # The test venv has it.
    assert "127.0.0.1:8025" in serve, "the guide's server listens on the default"
    smtp_port = free_port()
    smtp = Process(
        serve.replace("127.0.0.1:8025", f"127.0.0.1:{smtp_port}"),
        cwd=example.path,
        # Its output goes to a file here, not a terminal: do not buffer it.
        env={"PYTHONUNBUFFERED": "1"},
        log=tmp_path / "smtp.log",
    )
    worker = example.start("worker", tmp_path, env=worker_env(smtp_port, tmp_path))
    web_port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(web_port)})
    try:
        wait_for(lambda: port_is_open(smtp_port), timeout=15, what="aiosmtpd")
        wait_for(lambda: port_is_open(web_port), timeout=15, what="the Flask app")

        [curl] = example.commands("request")
        answer = run_against_flask(curl, web_port)
        email_id = json.loads(answer)["email_id"]

        smtp.wait_for_output("END MESSAGE", timeout=20)
        worker.wait_for_output(
            f"Sent e-mail {email_id} to ada@example.com.", timeout=10
        )
    finally:
        web.kill_group()
        worker.kill_group()
        smtp.kill_group()

    # The output the guide shows appears, in that order, in the real output.
    shown = normalize((example.path / "output.txt").read_text())
    seen = iter(normalize(smtp.output()))
    missing = [line for line in shown if line not in seen]
    assert not missing, f"not in this order in the SMTP server's output: {missing}"
