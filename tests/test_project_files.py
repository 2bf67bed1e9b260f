"""The hosting and CI files parse, and say what the README promises."""

from __future__ import annotations

import pytest
import yaml
from packaging.requirements import Requirement

from support.examples import EXAMPLES, ROOT


def load(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text())


def test_read_the_docs_builds_the_docs_with_warnings_as_errors() -> None:
    config = load(".readthedocs.yaml")
    assert config["version"] == 2
    assert config["sphinx"] == {
        "configuration": "docs/conf.py",
        "fail_on_warning": True,
    }
    assert "python -m pip install --group docs" in config["build"]["jobs"]["install"]
    assert (ROOT / config["sphinx"]["configuration"]).is_file()


def test_github_workflow_runs_the_readme_command_against_both_brokers() -> None:
    workflow = load(".github/workflows/ci.yml")
    [job] = workflow["jobs"].values()
    assert set(job["services"]) == {"rabbitmq", "redis"}
    assert {"5672:5672", "15672:15672", "6379:6379"} == {
        port for service in job["services"].values() for port in service["ports"]
    }
    assert job["strategy"]["matrix"]["python"][0] == "3.10"
    assert job["steps"][-1] == {"run": readme_test_command()}


def test_ci_script_runs_the_readme_command_verbatim() -> None:
    lines = (ROOT / ".ci/run").read_text().splitlines()
    assert readme_test_command() in lines


def test_compose_file_publishes_the_brokers_and_postgresql_on_loopback_only() -> None:
    services = load("compose.yaml")["services"]
    # The management API too: the parallel tests make vhosts there.
    assert services["rabbitmq"]["ports"] == [
        "127.0.0.1:5672:5672",
        "127.0.0.1:15672:15672",
    ]
    assert services["redis"]["ports"] == ["127.0.0.1:6379:6379"]
    assert services["postgres"]["ports"] == ["127.0.0.1:5432:5432"]
    assert all("healthcheck" in service for service in services.values())


def readme_test_command() -> str:
    """The command under the README's "Run every check" paragraph."""
    readme = (ROOT / "README.md").read_text()
    after = readme.split("Run every check", 1)[1]
    return after.split("```sh\n", 1)[1].split("\n", 1)[0]


@pytest.mark.parametrize(
    "path",
    sorted(EXAMPLES.glob("*/*/requirements.txt")),
    ids=lambda path: str(path.parent.relative_to(EXAMPLES)),
)
def test_every_example_needs_dramatiq_2_2_or_later(path) -> None:
    # 2.2.0 fixed messages stuck in a worker's prefetch queue; docs/install.rst
    # gives the reasons.
    [dramatiq] = [
        requirement
        for requirement in map(Requirement, path.read_text().splitlines())
        if requirement.name == "dramatiq"
    ]
    assert not dramatiq.specifier.contains("2.1.9")
    assert dramatiq.specifier.contains("2.2.0")
