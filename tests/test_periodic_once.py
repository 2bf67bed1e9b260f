"""docs/periodic.rst, 'Send each tick once': two schedulers, one message per tick.

Both schedulers run the Procfile's command; one is SIGKILLed mid-run, and
a claim left open by a frozen scheduler is taken over by the other.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from support.examples import Example
from support.figures import record
from support.periodic import (
    attempts,
    fast_copy,
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
    gaps,
    reports,
    start,
    ticks,
    wait_for_ticks,
)
from support.processes import wait_for


@pytest.mark.smoke
def test_two_schedulers_send_each_tick_once(
    example: Example, tmp_path: Path, database: str
) -> None:
    app = fast_copy(example, tmp_path)
    worker = start(example, "worker", app, database, tmp_path / "worker.log")
    schedulers = [
        start(example, "scheduler", app, database, tmp_path / f"scheduler-{n}.log")
        for n in (1, 2)
    ]
    processes = [worker, *schedulers]
    try:
        wait_for_ticks(database, 4, processes)
        assert [s.terminate(timeout=10) for s in schedulers] == [0, 0]
        sent = ticks(database)
        wait_for(
            lambda: len(reports(worker.output())) >= len(sent),
            timeout=15,
            what="the worker to run every tick's message",
        )
        assert worker.terminate(timeout=30) == 0
    finally:
        for process in processes:
            process.kill_group()

    moments = [tick for tick, _ in sent]
    # Every second from the first tick to the last, none twice ...
    assert set(gaps(moments)) == {1.0}, moments
    # ... each sent once and run once by the worker, which skipped no copy.
    assert set(reports(worker.output()).values()) == {1}
    assert "made before" not in worker.output()
    assert sorted(reports(worker.output())) == [t.isoformat() for t in moments]
    # Each tick: one scheduler logged that it sent it. Where both tried it
    # (all but the ticks before the second started or after the first
    # stopped), the other logged that it was sent by another scheduler.
    logs = [scheduler.output() for scheduler in schedulers]
    senders = [attempts(log, "sent the tick of {}.") for log in logs]
    losers = [
        attempts(log, "the tick of {} was sent by another scheduler.") for log in logs
    ]
    for tick in moments:
        assert [tick in won for won in senders].count(True) == 1, (tick, logs)
    tried_by_both = [
        tick
        for tick in moments
        if all(tick in won | lost for won, lost in zip(senders, losers, strict=True))
    ]
    assert len(tried_by_both) >= len(moments) - 2, logs
    assert all(log.rstrip().endswith("stopped.") for log in logs)


@pytest.mark.figure
def test_a_killed_scheduler_loses_no_tick(
    example: Example, tmp_path: Path, database: str
) -> None:
    app = fast_copy(example, tmp_path)
    schedulers = [
        start(example, "scheduler", app, database, tmp_path / f"scheduler-{n}.log")
        for n in (1, 2)
    ]
    try:
        wait_for_ticks(database, 3, schedulers)
        # SIGKILL whichever scheduler sent the latest tick, as a crash would.
        _, holder = ticks(database)[-1]
        [victim] = [s for s in schedulers if s.popen.pid == int(holder.rsplit(":")[-1])]
        victim.popen.send_signal(signal.SIGKILL)
        killed_at = datetime.now().astimezone()
        [survivor] = [s for s in schedulers if s is not victim]
        wait_for_ticks(database, 4, [survivor])
    finally:
        for scheduler in schedulers:
            scheduler.kill_group()

    sent = ticks(database)
    moments = [tick for tick, _ in sent]
    assert set(gaps(moments)) == {1.0}, sent
    after = [sent_by for tick, sent_by in sent if tick > killed_at]
    assert after and set(after) == {f"{holder.rsplit(':')[0]}:{survivor.popen.pid}"}
    first_after = min(tick for tick, _ in sent if tick > killed_at)
    takeover = (first_after - killed_at).total_seconds()
    print(
        f"\n[{example.broker.label}] first tick sent after the kill: {takeover:.2f} s"
    )
    assert takeover <= 1.5
    record("periodic", f"{example.broker.name}.killed_takeover_s", round(takeover, 1))


@pytest.mark.measure
def test_a_claim_left_open_by_a_frozen_scheduler_goes_to_the_other(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = fast_copy(example, tmp_path)
    scheduler = start(example, "scheduler", app, database, tmp_path / "scheduler.log")
    try:
        wait_for_ticks(database, 2, [scheduler])
        # Claim a tick 2 s ahead with the scheduler's claim(), in a
        # transaction that never ends: what a scheduler that froze between
        # its claim and its send() leaves behind.
        monkeypatch.setenv("DATABASE_URL", database)
        monkeypatch.setenv(example.broker.url_variable, example.broker.url)
        scheduler_module = Example(app).load("scheduler", monkeypatch)
        frozen = scheduler_module.connect()
        frozen.autocommit = False  # The first statement starts a transaction.
        tick = datetime.fromtimestamp(int(time.time()) + 2).astimezone()
        claimed_at = datetime.now().astimezone()
        assert scheduler_module.claim(frozen, "nightly-report", tick)
        wait_for(
            lambda: any(t == tick for t, _ in ticks(database)),
            timeout=25,
            what="the frozen scheduler's tick to be sent",
        )
        sent_at = datetime.now().astimezone()
        wait_for_ticks(database, 2, [scheduler])
    finally:
        scheduler.kill_group()

    # PostgreSQL ended the frozen transaction: its claim is gone.
    with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
        frozen.execute("SELECT 1")
    sent = dict(ticks(database))
    assert sent[tick].endswith(f":{scheduler.popen.pid}")
    delay = (sent_at - claimed_at).total_seconds()
    print(f"\n[{example.broker.label}] a frozen claim's tick sent {delay:.1f} s later")
    # idle_in_transaction_session_timeout (10 s) frees the claim, within
    # the waiting scheduler's lock_timeout (15 s).
    assert 10 <= delay <= 15
    record("periodic", f"{example.broker.name}.frozen_claim_delay_s", round(delay, 1))
    # Ticks missed while it waited: only the latest was sent, late.
    skipped = [
        tick + timedelta(seconds=n)
        for n in range(1, 5)
        if tick + timedelta(seconds=n) not in sent
    ]
    assert skipped, sent
    assert "the tick of" in scheduler.output()
