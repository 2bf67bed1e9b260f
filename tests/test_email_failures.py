"""docs/email.rst, 'Tell transient failures from permanent ones'.

A 4xx reply, a refused connection and a timeout are retried until the
e-mail goes through; a 5xx reply, or a server without STARTTLS, sends the
message to the dead-letter queue after one attempt. The 5xx test also runs
the command of 'Find the dead letters', which counts that message.
"""

from __future__ import annotations

import itertools
import re
import shlex
import socket
import subprocess
from pathlib import Path

import pytest

from support.email import (
    QUEUE,
    TRANSIENT,
    ScriptedHandler,
    SMTPServer,
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_servers,  # noqa: F401  (the fixture "servers")
    post_welcome,
    smtp_server,
    wait_for_a_dead_letter,
    wait_for_last_word,
    wait_for_showing_output,
    wait_until_settled,
    worker_env,
)
from support.examples import Example
from support.processes import free_port

PERMANENT = "550 5.1.1 No such user here"


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

        wait_for_showing_output(
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
