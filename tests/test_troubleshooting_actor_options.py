"""The options an actor needs: docs/troubleshooting.rst, 'Your test hangs at
join()' and 'get_result() gives up with a timeout'; docs/troubleshooting_tasks.rst,
'A failed task comes back days later'.

Retries and results: a test that hangs on 20 retries, a result that was never
stored, and the retry schedule of Dramatiq's defaults, over weeks.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support.examples import Example
from support.figures import record
from support.output import check_shown_output
from support.processes import Process
from support.troubleshooting import (
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_running,  # noqa: F401  (the fixture "running")
    read_example_file,
    shell,
    start_worker,
)

# --- Your test hangs at join() ---------------------------------------------


def reader_project_copy(example: Example, tmp_path: Path) -> Path:
    """The broker folder copied alone, as a reader's project, outside this repo."""
    return Path(
        shutil.copytree(
            example.path,
            tmp_path / "project",
            ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"),
        )
    )


def run_pytest(command: str, cwd: Path, timeout: float) -> tuple[int | None, str]:
    """Run a pytest command; on timeout kill it. Return (exit code or None, output)."""
    inherited = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    log = cwd / "pytest-output.txt"
    with log.open("wb") as out:
        process = subprocess.Popen(
            shlex.split(command),
            cwd=cwd,
            env=inherited,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
    return code, log.read_text()


@pytest.mark.measure
def test_join_waits_for_the_retry_and_hangs_the_test(
    example: Example, tmp_path: Path
) -> None:
    project = reader_project_copy(example, tmp_path)
    [command] = example.commands("join")

    code, output = run_pytest(command, project, timeout=10)

    assert code is None, f"pytest ended with {code}:\n{output}"
    check_shown_output(
        example.path / "join.txt", output, start="::test_add", end="Retrying message"
    )
    [delay] = re.findall(r"Retrying message '[\w-]+' in (\d+) milliseconds", output)
    assert 15_000 <= int(delay) <= 30_000

    # The fix of the testing page: no retries for the test's message.
    test_file = project / "test_join_hangs.py"
    source = test_file.read_text()
    assert 'add.send("1", 2)' in source
    test_file.write_text(
        source.replace(
            'add.send("1", 2)', 'add.send_with_options(args=("1", 2), max_retries=0)'
        )
    )
    code, output = run_pytest(command, project, timeout=30)
    assert code == 1, output
    assert "TypeError: can only concatenate str" in output
    assert "1 failed" in output


# --- get_result() gives up with a timeout ----------------------------------


@pytest.mark.measure
def test_get_result_without_store_results_gives_up(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    worker_command, get_result = example.commands("no-store-results")
    worker = start_worker(example, worker_command, tmp_path, running)

    started = time.monotonic()
    result = shell(get_result, example.path, timeout=60)
    took = time.monotonic() - started
    print(
        f"\n[{example.broker.name}] get_result(block=True) gave up after {took:.1f} s"
    )
    # Both brokers' examples keep results in Redis: one figure for the page.
    record("troubleshooting", "get_result_gave_up_seconds", round(took, 1))

    assert result.returncode == 1
    check_shown_output(
        example.path / "get-result.txt",
        result.stderr,
        start="Traceback (most recent call last):",
    )
    # redis-py 8 gives every socket a 5 s timeout: the blocking read fails
    # before Dramatiq's own 10 s result timeout.
    assert 4 < took < 9
    check_shown_output(
        example.path / "no-store-results.txt",
        worker.output(),
        start="store_results",
        end="store_results",
    )
    worker.kill_group()

    # The fix: tasks.py's divide has store_results=True.
    start_worker(example, example.procfile_command("worker"), tmp_path, running)
    [fixed] = example.commands("store-results")
    result = shell(fixed, example.path, timeout=30)
    assert (result.returncode, result.stdout) == (0, "2.0\n"), result.stderr


# --- A failed task comes back days later -----------------------------------


def test_failing_task_is_retried_15_to_30_seconds_later(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    worker = start_worker(
        example, example.procfile_command("worker"), tmp_path, running
    )
    [send] = example.commands("retry")
    assert shell(send, example.path).returncode == 0

    worker.wait_for_output("Retrying message", timeout=20)
    check_shown_output(
        example.path / "retry.txt",
        worker.output(),
        start="Failed to process message",
        end="Retrying message",
    )
    [delay] = re.findall(r"in (\d+) milliseconds", worker.output())
    assert 15_000 <= int(delay) <= 30_000
    # The retry waits in the delay queue, not in the worker's log.
    assert "Retries exceeded" not in worker.output()


UNITS = {"s": 1000, "min": 60_000, "hours": 3_600_000, "days": 86_400_000}


def to_ms(amount: str, unit: str) -> float:
    return float(amount) * UNITS[unit]


def test_retry_schedule_matches_dramatiqs_own_backoff(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    [command] = example.commands("retry-schedule")
    result = shell(command, example.path)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.splitlines()
        == read_example_file(example, "retry-schedule.txt").splitlines()
    )

    # Each printed range holds every wait Dramatiq's jittered backoff picks,
    # and its ends are reached (to the 3 digits printed).
    import random

    import dramatiq.common
    from dramatiq.middleware.retries import DEFAULT_MAX_BACKOFF, DEFAULT_MIN_BACKOFF

    rows = re.findall(
        r"^Retry +(\d+): ([\d.]+) (\w+) to ([\d.]+) (\w+) later$",
        result.stdout,
        flags=re.MULTILINE,
    )
    assert [int(row[0]) for row in rows] == list(range(1, 21))
    random.seed(0)
    for retry, low, low_unit, high, high_unit in rows:
        samples = [
            dramatiq.common.compute_backoff(
                int(retry) - 1,
                factor=DEFAULT_MIN_BACKOFF,
                max_backoff=DEFAULT_MAX_BACKOFF,
            )[1]
            for _ in range(2000)
        ]
        shortest, longest = to_ms(low, low_unit), to_ms(high, high_unit)
        assert shortest * 0.995 <= min(samples) <= shortest * 1.02, retry
        assert longest * 0.98 <= max(samples) <= longest * 1.005, retry
