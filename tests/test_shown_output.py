"""The one normalization of shown output (tests/support/output.py), on made-up runs.

The example tests compare real runs with the files the pages show; these
tests pin down what that comparison forgives and what it catches.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.output import check_shown_output, excerpt, same_output, stable

BOOT = "[2026-12-02 14:13:38,441] [PID 7410] [MainThread] [dramatiq.MainProcess] [INFO] Dramatiq '2.2.1' is booting up."
READY = "[2026-12-02 14:13:38,500] [PID 7411] [MainThread] [dramatiq.WorkerProcess(0)] [INFO] Worker process is ready for action."
SIGTERM = "[2026-12-02 14:13:40,576] [PID 7410] [MainThread] [dramatiq.MainProcess] [INFO] Sending signal 'SIGTERM' to subprocesses..."
DOWN_1 = "[2026-12-02 14:13:41,000] [PID 7411] [MainThread] [dramatiq.worker.Worker] [INFO] Worker has been shut down."
DOWN_2 = "[2026-12-02 14:13:41,581] [PID 7412] [MainThread] [dramatiq.worker.Worker] [INFO] Worker has been shut down."


def printed_lines(*lines: str) -> str:
    """What a run printed: these lines."""
    return "\n".join(lines)


def test_excerpt_hides_each_process_start_and_folds_tracebacks() -> None:
    printed = printed_lines(
        BOOT,
        READY,
        "Traceback (most recent call last):",
        '  File "tasks.py", line 9, in add',
        "    return x + y",
        "TypeError: can only concatenate str",
        SIGTERM,
    )

    assert excerpt(printed) == [
        BOOT,
        "Traceback (most recent call last):",
        "  ...",
        "TypeError: can only concatenate str",
        SIGTERM,
    ]


def test_excerpt_cuts_from_start_to_end_and_shows_a_watchers_repeats_once() -> None:
    changed = "[2026-12-02 14:13:38,000] [PID 7410] [Thread-2] [SourceChangesHandler] [INFO] Detected changes to '/x/tasks.py'."
    printed = printed_lines(BOOT, changed, changed, SIGTERM, DOWN_1)

    assert excerpt(printed, start="Detected changes", end="SIGTERM") == [
        changed,
        SIGTERM,
    ]


def test_a_log_record_inside_a_print_gets_its_own_line() -> None:
    printed = f"{BOOT}\nBuilding a report...{SIGTERM}\n\n{DOWN_1}\n"

    assert excerpt(printed) == [BOOT, "Building a report...", SIGTERM, DOWN_1]


def test_another_interleaving_of_processes_is_the_same_output() -> None:
    shown = [BOOT, "The sum is 3.", SIGTERM, DOWN_1, DOWN_2]
    run = [BOOT, "The sum is 3.", SIGTERM, DOWN_2, DOWN_1]
    # PIDs and times differ from run to run.
    run = [line.replace("7410", "9000").replace("14:13", "15:20") for line in run]

    assert same_output(run, shown)


def test_a_missing_line_or_a_process_out_of_order_is_not_the_same() -> None:
    shown = [BOOT, "The sum is 3.", SIGTERM, DOWN_1]

    assert not same_output([BOOT, SIGTERM, DOWN_1], shown)
    assert not same_output([BOOT, "The sum is 3.", SIGTERM, DOWN_1, DOWN_2], shown)
    assert not same_output([SIGTERM, "The sum is 3.", BOOT, DOWN_1], shown)


def test_stable_numbers_pids_from_4100_and_keeps_the_gaps_between_times() -> None:
    shown = stable([BOOT, SIGTERM, DOWN_1]).splitlines()

    assert shown[0].startswith("[2026-11-27 09:00:00,000] [PID 4100] ")
    assert shown[1].startswith("[2026-11-27 09:00:02,135] [PID 4100] ")
    assert shown[2].startswith("[2026-11-27 09:00:02,559] [PID 4101] ")


def test_regen_writes_the_file_the_check_then_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown_file = tmp_path / "output.txt"
    printed = printed_lines(BOOT, READY, "The sum is 3.", SIGTERM, DOWN_1)

    monkeypatch.setenv("GUIDE_REGENERATE", "1")
    check_shown_output(shown_file, printed)
    monkeypatch.delenv("GUIDE_REGENERATE")

    assert "Worker process is ready" not in shown_file.read_text()
    check_shown_output(shown_file, printed.replace("7410", "8123"))
    with pytest.raises(AssertionError, match="nox -s regen rewrites it"):
        check_shown_output(shown_file, printed.replace("The sum is 3.", "12"))
