"""docs/health.rst, 'Use the checks': compose, Kubernetes and systemd run them.

No Docker engine, Kubernetes cluster or systemd runs the tests. The files
are checked against their schemas (the Compose Specification's; Kubernetes'
own, with kubernetes-validate) and by systemd-analyze, and what they run is
read from them: the page's liveness command and the app's health URLs,
and the Procfile's commands. tests/test_health.py runs those for real.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from support.deployment import (
    compose_file_errors,
    copied_to_opt,
    parse_unit,
    split_env,
    systemd_analyze_verify,
)
from support.examples import Example, example_params


@pytest.fixture(name="files", params=example_params("health"))
def fixture_files(request: pytest.FixtureRequest) -> Example:
    return Example(request.param)


def liveness_command(files: Example) -> list[str]:
    [command] = files.commands("live")
    return shlex.split(command)


def test_compose_checks_each_service(files: Example) -> None:
    assert compose_file_errors(files.path / "compose.yaml") == ""
    services = yaml.safe_load((files.path / "compose.yaml").read_text())["services"]
    assert services["worker"]["healthcheck"]["test"] == [
        "CMD",
        *liveness_command(files),
    ]
    # A new /tmp, where health.py keeps its heartbeats, at each start.
    assert services["worker"]["tmpfs"] == ["/tmp"]
    _, worker = split_env(files.procfile_command("worker"))
    assert services["worker"]["command"] == worker
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/health/ready" in web_check
    for name in ("web", "worker"):
        condition = services[name]["depends_on"][files.broker.name]["condition"]
        assert condition == "service_healthy"


def test_the_compose_web_check_is_python_that_runs(files: Example) -> None:
    """The image has no curl: the check is a Python one-liner; it must parse."""
    services = yaml.safe_load((files.path / "compose.yaml").read_text())["services"]
    cmd, python, flag, code = services["web"]["healthcheck"]["test"]
    assert (cmd, python, flag) == ("CMD", "python", "-c")
    compile(code, "healthcheck", "exec")


def test_kubernetes_manifests_are_valid_and_probe_the_checks(files: Example) -> None:
    documents = list(yaml.safe_load_all((files.path / "kubernetes.yaml").read_text()))
    for document in documents:
        kubernetes_validate.validate(
            document, kubernetes_validate.latest_version(), strict=True
        )
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
        for d in documents
    }
    web, worker = pods["flask-app-web"], pods["flask-app-worker"]
    assert web["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert web["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert worker["livenessProbe"]["exec"]["command"] == liveness_command(files)
    variables, command = split_env(files.procfile_command("worker"))
    assert worker["command"] == shlex.split(command)
    assert {e["name"]: e["value"] for e in worker.get("env", [])} == variables
    assert "readinessProbe" not in worker  # A worker takes no requests.


def test_the_systemd_unit_restarts_a_hung_worker(
    files: Example, tmp_path: Path
) -> None:
    service = parse_unit(files.path / "flask-app-worker.service")["Service"]
    variables, command = split_env(files.procfile_command("worker"))
    assert service["ExecStart"] == (
        f"/opt/flask-app/.venv/bin/{command} --fork-function health:watchdog"
    )
    assert service["NotifyAccess"] == "all"
    # Without a watchdog, nothing restarts a hung worker; with systemd's own
    # signal (SIGABRT), the main process dumps core instead of stopping cleanly.
    assert (service["WatchdogSec"], service["WatchdogSignal"]) == ("60", "SIGTERM")
    assert service["Restart"] == "on-failure"
    environment = dict(pair.split("=", 1) for pair in service["Environment"].split())
    assert environment == {
        "HEARTBEAT_DIR": f"/run/{service['RuntimeDirectory']}",
        "PYTHONUNBUFFERED": "1",
        **variables,
    }
    returncode, stderr = systemd_analyze_verify(
        files.path / "flask-app-worker.service",
        str(Path(sys.executable).parent / "dramatiq"),
        tmp_path,
    )
    assert returncode == 0 and "flask-app-worker.service" not in stderr, stderr


def test_the_systemd_commands_copy_the_modules_and_the_unit(files: Example) -> None:
    assert {path.name for path in files.path.glob("*.py")} <= copied_to_opt(files)
    assert "sudo cp flask-app-worker.service /etc/systemd/system/" in files.commands(
        "systemd"
    )
