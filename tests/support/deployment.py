"""Shared by the tests of docs/deployment.rst (tests/test_deployment_*.py).

The deployment example's fixtures, readers of its compose.yaml, systemd unit
and env files, and the Procfile's gunicorn and worker, started for real.

A test module imports a fixture by its function's name, fixture_example
for the fixture ``example``: a test's parameter named like the import would
shadow it (ruff's F811).
"""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support.examples import Example, example_params, with_empty_queues
from support.processes import Process, free_port

QUEUE = "deployment"
WEB_ADDRESS = "127.0.0.1:8000"  # where the Procfile's gunicorn listens
UNIT = "flask-app-worker.service"
THREADS = "--threads 4"  # the Procfile's gunicorn threads per process


@pytest.fixture(name="example", params=example_params("deployment"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    """The fixture ``example``: each broker's deployment example, queue empty."""
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.fixture(name="files", params=example_params("deployment"))
def fixture_files(request: pytest.FixtureRequest) -> Example:
    """The fixture ``files``: the same folders, for the checks that only read
    files: no broker needed."""
    return Example(request.param)


def compose(example: Example) -> dict:
    return yaml.safe_load((example.path / "compose.yaml").read_text())


def env_file(path: Path) -> dict[str, str]:
    """The NAME=value lines of a .env or systemd EnvironmentFile file."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def unit(example: Example) -> configparser.ConfigParser:
    return parse_unit(example.path / UNIT)


def parse_unit(path: Path) -> configparser.ConfigParser:
    """A systemd unit file, parsed."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def split_env(command: str) -> tuple[dict[str, str], str]:
    """``env A=1 B=2 program args`` as ({"A": "1", "B": "2"}, "program args")."""
    words = shlex.split(command)
    variables = {}
    if words[0] == "env":
        words = words[1:]
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            variables[name] = value
    return variables, shlex.join(words)


@pytest.fixture(name="running")
def fixture_running() -> Iterator[list[Process]]:
    """The fixture ``running``: the processes a test starts, killed with their
    children when it ends."""
    processes: list[Process] = []
    yield processes
    for process in processes:
        process.kill_group()


def start_worker(
    example: Example, tmp_path: Path, running: list[Process], **env: str
) -> Process:
    worker = example.start("worker", tmp_path, env=env)
    running.append(worker)
    return worker


def start_web(
    example: Example,
    tmp_path: Path,
    running: list[Process],
    env: dict[str, str],
    app: str = "app:app",
    threads: str = THREADS,
) -> tuple[Process, int]:
    """The Procfile's gunicorn command as written, on a free port instead of 8000."""
    command = example.procfile_command("web")
    assert WEB_ADDRESS in command, "the Procfile's web line binds 127.0.0.1:8000"
    assert command.endswith(" app:app")
    assert f" {THREADS} " in command
    port = free_port()
    web = Process(
        command.replace(WEB_ADDRESS, f"127.0.0.1:{port}")
        .replace("app:app", app)
        .replace(THREADS, threads),
        cwd=example.path,
        # gunicorn puts its control socket in XDG_RUNTIME_DIR; keep it in the
        # test's folder, apart from other gunicorns on this machine.
        env={
            "XDG_RUNTIME_DIR": str(tmp_path),
            example.broker.url_variable: example.broker.url,
            **env,
        },
        log=tmp_path / "deployment-web.log",
    )
    running.append(web)
    return web, port


def post_the_guides_request(example: Example, port: int) -> dict:
    [curl] = example.commands("request")
    assert f"http://{WEB_ADDRESS}/" in curl, "the guide's request targets gunicorn"
    answer = subprocess.run(
        shlex.split(curl.replace(WEB_ADDRESS, f"127.0.0.1:{port}")),
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return json.loads(answer.stdout)


def systemd_analyze_verify(
    unit_file: Path, program: str, tmp_path: Path
) -> tuple[int, str]:
    """``systemd-analyze verify`` on a copy of ``unit_file``; its exit code and stderr.

    verify insists that ExecStart's program exists: the copy runs
    ``program`` (this virtualenv's) instead of the one under /opt. Skips
    the test where systemd-analyze is not installed.
    """
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    exec_start = parse_unit(unit_file)["Service"]["ExecStart"].split()[0]
    copy = tmp_path / unit_file.name
    copy.write_text(unit_file.read_text().replace(exec_start, program))
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # It reports unknown keys and bad values on stderr, and still exits 0.
    return result.returncode, result.stderr


def copied_to_opt(example: Example) -> set[str]:
    """The files the page's systemd commands copy into /opt/flask-app."""
    [copy] = [
        line
        for line in example.commands("systemd")
        if line.startswith("sudo cp ") and line.endswith(" /opt/flask-app/")
    ]
    return {
        path.name
        for word in shlex.split(copy)[2:-1]
        for path in example.path.glob(word)
    }


def compose_file_errors(path: Path) -> str:
    """What the Compose Specification's JSON schema (as check-jsonschema ships
    it) finds wrong in the compose file at ``path``; empty if nothing."""
    result = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr
