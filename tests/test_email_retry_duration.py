"""docs/email.rst, 'Choose how long to retry'.

The example's retry settings give up after the time the page promises, and
a message that keeps failing ends in the dead-letter queue; Dramatiq's
defaults would retry for weeks.
"""

from __future__ import annotations

import itertools
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
    worker_env,
)
from support.examples import ROOT, Example

DOCS = ROOT / "docs"


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
