"""docs/email_once.rst, 'Send each e-mail once'.

A redelivered message, the same message again, sends no second e-mail: the
record of sent e-mails survives a restart of the worker.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from support.email import (
    ScriptedHandler,
    SMTPServer,
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_servers,  # noqa: F401  (the fixture "servers")
    smtp_server,
    wait_for_showing_output,
    wait_until_settled,
    worker_env,
)
from support.examples import Example


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
        wait_for_showing_output(
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
