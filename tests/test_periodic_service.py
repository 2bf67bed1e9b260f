"""docs/periodic.rst, 'Run the scheduler as a service'.

The unit passes systemd-analyze verify and runs the Procfile's scheduler
with the variables of worker.env.example; the scheduler it starts stops on
the unit's KillSignal within its TimeoutStopSec; the page's commands
install what the unit reads.
"""

from __future__ import annotations

import configparser
import sys
import time
from pathlib import Path

from support.deployment import env_file, parse_unit, systemd_analyze_verify
from support.examples import Example
from support.periodic import (
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
)
from support.processes import Process

UNIT = "flask-app-scheduler.service"


def service(example: Example) -> configparser.SectionProxy:
    parser = parse_unit(example.path / UNIT)
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    return parser["Service"]


def test_the_unit_passes_systemd_analyze_verify(
    example: Example, tmp_path: Path
) -> None:
    verified = systemd_analyze_verify(example.path / UNIT, sys.executable, tmp_path)
    assert verified == (0, "")


def test_the_units_scheduler_stops_on_its_kill_signal_in_time(
    example: Example, tmp_path: Path, database: str
) -> None:
    unit = service(example)
    venv_python = f"{unit['WorkingDirectory']}/.venv/bin/python"
    command = example.procfile_command("scheduler")
    assert unit["ExecStart"] == venv_python + command.removeprefix("python")
    assert unit["User"] not in ("", "root")
    assert unit["Restart"] == "on-failure"
    # The variables the unit gives it: worker.env.example's, with this
    # test's broker and database.
    settings = env_file(example.path / "worker.env.example")
    assert set(settings) == {
        example.broker.url_variable,
        "DATABASE_URL",
        "SCHEDULE_TIME_ZONE",
    }
    assert unit["EnvironmentFile"] == "/etc/flask-app/worker.env"
    settings |= {
        example.broker.url_variable: example.broker.url,
        "DATABASE_URL": database,
    }
    scheduler = Process(
        command, cwd=example.path, env=settings, log=tmp_path / "scheduler.log"
    )
    try:
        scheduler.wait_for_output("next tick", timeout=15)
        assert unit["KillSignal"] == "SIGTERM"
        started = time.monotonic()
        assert scheduler.terminate(timeout=float(unit["TimeoutStopSec"])) == 0
        took = time.monotonic() - started
    finally:
        scheduler.kill_group()
    print(
        f"\n[{example.broker.label}] the scheduler stopped {took:.2f} s after SIGTERM"
    )
    assert "cron times in UTC." in scheduler.output()
    assert scheduler.output().rstrip().endswith("stopped.")


def test_the_commands_install_what_the_unit_reads(example: Example) -> None:
    unit = service(example)
    commands = "\n".join(example.commands("systemd"))
    folder = unit["WorkingDirectory"]
    # Every file the scheduler imports, and the packages they need.
    assert f"sudo cp *.py requirements.txt {folder}/" in commands
    assert (
        f"{folder}/.venv/bin/python -m pip install -r {folder}/requirements.txt"
        in commands
    )
    # The tables, created with the secrets the service reads.
    assert f"--uid={unit['User']} --working-directory={folder}" in commands
    assert f"--property=EnvironmentFile={unit['EnvironmentFile']}" in commands
    assert f"sudoedit {unit['EnvironmentFile']}" in commands
    assert f"sudo cp {UNIT} /etc/systemd/system/" in commands
    assert f"sudo systemctl enable --now {UNIT.removesuffix('.service')}" in commands
