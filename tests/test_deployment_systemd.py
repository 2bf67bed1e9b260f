"""docs/services.rst, 'Run the worker with systemd'.

The unit passes systemd-analyze verify, runs the Procfile's worker and
stops it gently; the page's commands install what the unit reads.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from support.deployment import (
    UNIT,
    copied_to_opt,
    fixture_files,  # noqa: F401  (the fixture "files")
    split_env,
    systemd_analyze_verify,
    unit,
)
from support.examples import Example


def unit_environment(example: Example) -> dict[str, str]:
    """Every Environment= assignment of the unit; configparser keeps only the last."""
    variables = {}
    for line in (example.path / UNIT).read_text().splitlines():
        if line.startswith("Environment="):
            for assignment in shlex.split(line.removeprefix("Environment=")):
                name, _, value = assignment.partition("=")
                variables[name] = value
    return variables


def test_systemd_unit_passes_systemd_analyze_verify(
    files: Example, tmp_path: Path
) -> None:
    verified = systemd_analyze_verify(
        files.path / UNIT, shutil.which("dramatiq"), tmp_path
    )
    assert verified == (0, "")


def test_systemd_unit_runs_the_procfile_worker_and_stops_it_gracefully(
    files: Example,
) -> None:
    service = unit(files)["Service"]
    venv_bin = f"{service['WorkingDirectory']}/.venv/bin/"
    variables, command = split_env(files.procfile_command("worker"))
    assert service["ExecStart"] == venv_bin + command
    assert unit_environment(files).items() >= variables.items()
    assert service["User"] not in ("", "root")
    # SIGTERM to dramatiq's main process only; it passes it on to its worker
    # processes. test_deployment_stop.py's
    # test_a_second_sigterm_makes_a_worker_process_quit_mid_task
    # shows what KillMode=control-group can do instead.
    assert service["KillSignal"] == "SIGTERM"
    assert service["KillMode"] == "mixed"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"].startswith("/etc/")
    assert unit(files)["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_commands_install_what_the_unit_reads(files: Example) -> None:
    service = unit(files)["Service"]
    commands = files.commands("systemd")
    user = service["User"]
    assert any(
        c.startswith("sudo useradd --system") and c.endswith(f" {user}")
        for c in commands
    )
    assert f"sudo python3 -m venv {service['WorkingDirectory']}/.venv" in commands
    assert (
        f"sudo install -m 600 worker.env.example {service['EnvironmentFile']}"
        in commands
    )
    assert f"sudo cp {UNIT} /etc/systemd/system/" in commands
    assert f"sudo systemctl enable --now {UNIT.removesuffix('.service')}" in commands


def test_systemd_commands_copy_every_module_of_the_app(files: Example) -> None:
    """RabbitMQ's tasks.py imports publish_timeout.py: copying app.py and
    tasks.py only, as the page once did, leaves a service that cannot start."""
    assert {path.name for path in files.path.glob("*.py")} <= copied_to_opt(files)
