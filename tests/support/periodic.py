"""What the tests of examples/periodic share (docs/periodic.rst).

The tests run the example's real scheduler and worker (the Procfile's
commands) against the real broker and a PostgreSQL database of their own.
The example's jobs tick at 02:30 and every hour; the tests run a copy of
the example whose schedule ticks every second (nightly-report) and every
other second (forget-old-ticks), and nothing else changed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from support.databases import new_database, query
from support.examples import Example, example_params, with_empty_queues
from support.processes import Process, wait_for

QUEUE = "periodic"
# The schedule the tests run instead of the example's: ticks every second.
FAST_SCHEDULE = {
    '"30 2 * * *"': '"* * * * * *"',
    '"15 * * * *"': '"*/2 * * * * *"',
}


@pytest.fixture(name="example", params=example_params("periodic"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.fixture(name="database")
def fixture_database(example: Example) -> Iterator[str]:
    """A database of this test's own, with the tables the guide's command creates."""
    try:
        with new_database() as url:
            output = guide_commands(
                example.path, "create-tables", {"DATABASE_URL": url}
            )
            assert output == "The tables are ready.\n"
            yield url
    except RuntimeError as error:  # PostgreSQL is not reachable.
        pytest.fail(str(error), pytrace=False)


def guide_commands(folder: Path, section: str, env: dict[str, str]) -> str:
    """Run the guide's commands of ``section`` in ``folder``; their output."""
    example = Example(folder)
    script = "\n".join(["set -e", *example.commands(section)])
    return subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def fast_copy(
    example: Example, tmp_path: Path, schedule: dict[str, str] = FAST_SCHEDULE
) -> Path:
    """A copy of the example with ``schedule``'s cron expressions; its folder."""
    # Named like the example's folder, by its broker: Example() reads the name.
    copy = tmp_path / example.path.name
    shutil.copytree(example.path, copy, ignore=shutil.ignore_patterns("__pycache__"))
    module = copy / "schedule.py"
    text = module.read_text()
    for shown, fast in schedule.items():
        assert shown in text, f"{module} no longer schedules {shown}"
        text = text.replace(shown, fast)
    module.write_text(text)
    return copy


def start(
    example: Example, process_type: str, folder: Path, database: str, log: Path
) -> Process:
    """The Procfile's command for ``process_type``, run in ``folder``."""
    return Process(
        Example(example.path).procfile_command(process_type),
        cwd=folder,
        env={example.broker.url_variable: example.broker.url, "DATABASE_URL": database},
        log=log,
    )


def ticks(database: str, job: str = "nightly-report") -> list[tuple[datetime, str]]:
    """The ticks the schedulers sent of ``job``, in order, and who sent each."""
    rows = query(
        database, f"SELECT tick, sent_by FROM ticks WHERE job = '{job}' ORDER BY tick"
    )
    return [(tick, sent_by) for tick, sent_by in rows]


def reports(output: str) -> Counter[str]:
    """How many messages of each tick the worker ran (made, or skipped as a copy)."""
    return Counter(re.findall(r"Report for (\S+): made", output))


def attempts(output: str, line: str, job: str = "nightly-report") -> set[datetime]:
    """The ticks of ``job`` for which a scheduler logged ``line`` ({} is the tick)."""
    pattern = re.escape(f"{job}: {line}").replace(re.escape("{}"), "(.+?)")
    return {datetime.fromisoformat(tick) for tick in re.findall(pattern, output)}


def gaps(moments: list[datetime]) -> list[float]:
    """The seconds between each tick and the next."""
    return [(b - a).total_seconds() for a, b in pairwise(moments)]


def wait_for_ticks(database: str, count: int, processes: list[Process]) -> None:
    """Wait until ``count`` more nightly-report ticks than now were sent."""
    target = len(ticks(database)) + count
    try:
        wait_for(
            lambda: len(ticks(database)) >= target,
            timeout=count + 15,
            what=f"{count} more ticks",
        )
    except AssertionError as error:
        logs = "\n".join(f"--- {p.command}\n{p.output()[-3000:]}" for p in processes)
        raise AssertionError(f"{error}. Output:\n{logs}") from None
