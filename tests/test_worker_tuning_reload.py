"""docs/worker_tuning.rst, 'Install the packages' and 'Reload on every edit'.

The requirements' ``watch`` extra installs watchdog, which ``--watch`` needs;
with watchdog 7.0 to 7.1.0, ``--watch .`` reloads only with
``--watch-include '**/*.py'``; watchdog 7.1.1 matches the default pattern again.
"""

from __future__ import annotations

import re
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from support.examples import Example
from support.output import check_shown_output
from support.processes import Process, stays_false, wait_for
from support.worker_tuning import (
    BOOTED,
    editable_copy,
    fixture_example,  # noqa: F401  (the fixture "example")
    start_and_wait_for_boot,
)

WATCH_INCLUDE = " --watch-include '**/*.py'"
# The watchdog release whose patterns match relative to the watched folder
# again, so that Dramatiq's default pattern, **.py, finds ./tasks.py.
WATCHDOG_MATCHES_AGAIN = (7, 1, 1)

# The shared fixture, bound here by name for pytest to find.


# --- Install the packages --------------------------------------------------


def test_requirements_include_the_watch_extra(example: Example) -> None:
    requirements = (example.path / "requirements.txt").read_text()
    assert re.search(r"^dramatiq\[[^]]*\bwatch\b", requirements, re.MULTILINE)
    import watchdog  # noqa: F401  (the extra installs it; --watch needs it)


# --- Reload on every edit --------------------------------------------------


def edit_notify(project: Example) -> None:
    """Change what notify() prints, as a developer editing the actor would."""
    tasks = project.path / "tasks.py"
    source = tasks.read_text()
    assert 'print(f"Notified: {text}")' in source
    tasks.write_text(source.replace("Notified: ", "Told the user: "))


def wait_for_reload(worker: Process) -> None:
    """Until the worker has booted a second time, on the edited code."""
    wait_for(
        lambda: worker.output().count(BOOTED) >= 2,
        timeout=30,
        what="the worker to reload",
    )


def test_watch_with_include_pattern_reloads_and_runs_the_new_code(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = example.procfile_command("worker-dev")
    assert command.endswith(" --watch ." + WATCH_INCLUDE), command
    project = editable_copy(example, tmp_path)
    worker = start_and_wait_for_boot(project, "worker-dev", tmp_path)
    try:
        notify = project.load("tasks", monkeypatch).notify
        notify.send("before the edit")
        worker.wait_for_output("Notified: before the edit", timeout=20)

        edited = time.monotonic()
        edit_notify(project)
        wait_for_reload(worker)
        rebooted = time.monotonic()
        notify.send("after the edit")
        worker.wait_for_output("Told the user: after the edit", timeout=20)
        new_code = time.monotonic()
        print(
            f"\n[{example.broker.name}] --watch reload: edit -> rebooted "
            f"{rebooted - edited:.2f} s, edit -> new code ran {new_code - edited:.2f} s"
        )
        assert "Notified: after the edit" not in worker.output()
    finally:
        worker.kill_group()
    # The main process re-executes itself: both boots log the same PID.
    booted_by = re.findall(r"\[PID (\d+)\] .*" + re.escape(BOOTED), worker.output())
    assert booted_by == [str(worker.popen.pid)] * 2
    check_shown_output(
        example.path / "reload.txt",
        worker.output(),
        start="Detected changes",
        end=BOOTED,
        paths={str(project.path): "/home/you/project"},
        # Killed or shut down: which one varies with the moment of the edit.
        hide=("] Worker has been shut down.",),
    )


@pytest.mark.measure
def test_plain_watch_dot_reloads_only_from_watchdog_7_1_1(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker runs in this virtualenv: its watchdog is this one.
    reloads = watchdog_release() >= WATCHDOG_MATCHES_AGAIN
    # What readers of older guides run: the same line without the pattern.
    command = example.procfile_command("worker-dev").replace(WATCH_INCLUDE, "")
    assert command == "dramatiq tasks --watch ."
    project = editable_copy(example, tmp_path)
    worker = Process(
        command,
        cwd=project.path,
        env={example.broker.url_variable: example.broker.url},
        log=tmp_path / "plain-watch.log",
    )
    try:
        worker.wait_for_output(BOOTED, timeout=30)
        notify = project.load("tasks", monkeypatch).notify

        edit_notify(project)
        # A working --watch reloads 1 to 7 s after an edit; give it 12.
        if reloads:
            wait_for_reload(worker)
            runs = "Told the user: after the edit"
        else:
            assert stays_false(lambda: "Detected changes" in worker.output(), 12)
            assert worker.output().count(BOOTED) == 1
            runs = "Notified: after the edit"  # The old code, still.
        notify.send("after the edit")
        worker.wait_for_output(runs, timeout=20)
    finally:
        worker.kill_group()


def watchdog_release() -> tuple[int, ...]:
    return tuple(int(part) for part in version("watchdog").split(".")[:3])
