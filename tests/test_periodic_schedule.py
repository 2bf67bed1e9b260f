"""docs/periodic.rst, 'Time zones' and 'Missed ticks': when the scheduler sends.

The page's --upcoming commands print what the page shows around the
daylight-saving shifts; a scheduler restarted after downtime sends the
latest missed tick once; a scheduler without its database says so in one line.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from support.databases import Proxy, query, with_address
from support.examples import Example
from support.figures import record
from support.output import check_shown_output
from support.periodic import (
    FAST_SCHEDULE,
    fast_copy,
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
    guide_commands,
    start,
    ticks,
    wait_for_ticks,
)
from support.processes import Process, wait_for

# The skipped hour: 02:30 runs at 03:00 and the hourly job skips 02:15.
SPRING = ["  2027-03-28 03:00:00+02:00", "  2027-03-28 03:15:00+02:00"]
# The repeated hour: 02:30 runs once, and the hourly job twice.
AUTUMN = ["  2027-10-31 02:15:00+02:00", "  2027-10-31 02:15:00+01:00"]


@pytest.mark.parametrize(
    ("section", "shown", "expected"),
    [
        ("upcoming", "upcoming.txt", SPRING),
        ("upcoming-autumn", "upcoming-autumn.txt", AUTUMN),
    ],
)
def test_the_upcoming_ticks_follow_daylight_saving_time(
    example: Example, section: str, shown: str, expected: list[str]
) -> None:
    printed = guide_commands(example.path, section, {})
    check_shown_output(example.path / shown, printed)
    lines = printed.splitlines()
    assert all(line in lines for line in expected), printed
    nightly = [line for line in lines if " 02:30:00" in line or " 03:00:00" in line]
    assert len({line[:13] for line in nightly}) == len(nightly), "one run a day"
    assert "  2027-03-28 02:15:00+01:00" not in lines


def test_a_restarted_scheduler_sends_the_latest_missed_tick_once(
    example: Example, tmp_path: Path, database: str
) -> None:
    app = fast_copy(example, tmp_path)
    first = start(example, "scheduler", app, database, tmp_path / "first.log")
    second = None
    try:
        wait_for_ticks(database, 2, [first])
        assert first.terminate(timeout=10) == 0
        stopped = ticks(database)[-1][0]
        time.sleep(3)  # The downtime: three ticks pass with no scheduler.
        second = start(example, "scheduler", app, database, tmp_path / "second.log")
        second.wait_for_output("sending it late.", timeout=15)
        wait_for_ticks(database, 1, [second])
        assert second.terminate(timeout=10) == 0
    finally:
        for scheduler in (first, second):
            if scheduler:
                scheduler.kill_group()

    # A job that never ran has nothing to catch up on.
    assert "sending it late." not in first.output()
    moments = [tick for tick, _ in ticks(database)]
    after_stop = [tick for tick in moments if tick > stopped]
    late = after_stop[0]
    # The first tick after the restart is late, and its predecessors missed.
    assert (late - stopped).total_seconds() >= 3, moments
    assert second and f"no scheduler sent the tick of {late}" in second.output()
    # Sent once, however many schedulers catch up: one line in the table.
    assert moments.count(late) == 1


def test_a_scheduler_without_its_database_says_how_to_start_it(
    example: Example, tmp_path: Path
) -> None:
    result = subprocess.run(
        Example(example.path).procfile_command("scheduler").split(),
        check=False,
        cwd=example.path,
        # Port 9 (discard): nothing listens there.
        env={
            **os.environ,
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/postgres",
        },
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1
    check_shown_output(
        example.path / "no-database.txt", result.stderr, paths={"port 9 ": "port 5432 "}
    )
    [message] = result.stderr.splitlines()
    assert message.startswith("The scheduler cannot read its ticks table (connection")
    assert message.endswith(
        "Start PostgreSQL at DATABASE_URL, then create the tables: python database.py"
    )


@pytest.mark.measure
def test_a_tick_the_broker_refused_is_sent_again_5_s_later(
    example: Example, tmp_path: Path, database: str
) -> None:
    # Ticks 15 s apart, and a broker that refuses connections at first.
    schedule = {**FAST_SCHEDULE, '"30 2 * * *"': '"*/15 * * * * *"'}
    app = fast_copy(example, tmp_path, schedule)
    proxy = Proxy(example.broker.address)
    proxy.refusing()
    scheduler = Process(
        example.procfile_command("scheduler"),
        cwd=app,
        env={
            example.broker.url_variable: with_address(
                example.broker.url, "127.0.0.1", proxy.port
            ),
            "DATABASE_URL": database,
        },
        log=tmp_path / "scheduler.log",
    )
    try:
        scheduler.wait_for_output("nightly-report: could not send", timeout=25)
        proxy.up()
        wait_for(
            lambda: ticks(database),
            timeout=15,
            what="the refused tick to be sent again",
        )
    finally:
        scheduler.kill_group()
        proxy.close()

    [(tick, _)] = ticks(database)
    [sent_at] = [
        at
        for (at,) in query(
            database, "SELECT sent_at FROM ticks WHERE job = 'nightly-report'"
        )
    ]
    late = (sent_at - tick).total_seconds()
    print(f"\n[{example.broker.label}] the refused tick went out {late:.1f} s late")
    # The same tick, on the first retry: 5 s after the failed send.
    assert f"nightly-report: could not send the tick of {tick}" in scheduler.output()
    assert 5 <= late < 7
    record("periodic", f"{example.broker.name}.refused_tick_late_s", round(late, 1))
