"""docs/periodic.rst, 'Or with Docker Compose'.

No Docker engine runs the tests: compose.yaml is checked against the
Compose Specification's JSON schema, and what it runs is read from it: the
Procfile's worker and scheduler (twice), the page's table command first,
the variables of worker.env.example, and every ${...} in .env.example.
tests/test_periodic_once.py runs two schedulers for real.
"""

from __future__ import annotations

import re

import pytest
import yaml

from support.deployment import compose_file_errors, env_file, split_env
from support.examples import Example, example_params


@pytest.fixture(name="files", params=example_params("periodic"))
def fixture_files(request: pytest.FixtureRequest) -> Example:
    return Example(request.param)


def services(files: Example) -> dict:
    return yaml.safe_load((files.path / "compose.yaml").read_text())["services"]


def test_the_compose_file_is_valid(files: Example) -> None:
    assert compose_file_errors(files.path / "compose.yaml") == ""


def test_compose_runs_the_procfile_and_two_schedulers(files: Example) -> None:
    found = services(files)
    variables, worker = split_env(files.procfile_command("worker"))
    assert found["worker"]["command"] == worker
    for name, value in variables.items():
        assert found["worker"]["environment"][name] == value
    scheduler = found["scheduler"]
    assert scheduler["command"] == files.procfile_command("scheduler")
    assert scheduler["deploy"]["replicas"] == 2
    assert scheduler["environment"] == found["worker"]["environment"]
    # The settings of the systemd units' secrets file, no fewer.
    expected = set(env_file(files.path / "worker.env.example"))
    assert expected <= set(scheduler["environment"])


def test_the_tables_exist_before_a_worker_or_scheduler_starts(files: Example) -> None:
    found = services(files)
    [create] = [c for c in files.commands("create-tables") if not c.startswith("#")]
    assert found["tables"]["command"] == create
    for name in ("worker", "scheduler"):
        assert found[name]["depends_on"] == {
            files.broker.name: {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
            "tables": {"condition": "service_completed_successfully"},
        }, name
    database_url = found["worker"]["environment"]["DATABASE_URL"]
    assert found["tables"]["environment"]["DATABASE_URL"] == database_url
    user = found["postgres"]["environment"]["POSTGRES_USER"]
    assert database_url.startswith(f"postgresql://{user}:")
    assert database_url.endswith(f"@postgres:5432/{user}")  # The image's database


def test_env_example_names_every_variable_compose_reads(files: Example) -> None:
    text = (files.path / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{(\w+)", text))
    assert used == set(env_file(files.path / ".env.example"))
