"""The hosting and CI files parse, and say what the README promises."""

from __future__ import annotations

import re
import sys
from importlib import metadata

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from support.brokers import BROKERS
from support.examples import EXAMPLES, ROOT
from support.pythons import SUPPORTED_PYTHONS
from support.topics import topic_modules

if sys.version_info >= (3, 11):
    import tomllib
else:  # The test group installs tomli on Python 3.10.
    import tomli as tomllib


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
    for job in workflow["jobs"].values():
        assert set(job["services"]) == {"rabbitmq", "redis"}
        assert {"5672:5672", "15672:15672", "6379:6379"} == {
            port for service in job["services"].values() for port in service["ports"]
        }
    job = workflow["jobs"]["nox"]
    assert job["strategy"]["matrix"]["python"] == list(SUPPORTED_PYTHONS)
    assert job["steps"][-2:] == [
        {"run": "python -m pip install -c requirements/toolchain.txt --group nox"},
        {"run": readme_test_command()},
    ]


def test_github_workflow_runs_the_newest_releases_weekly() -> None:
    workflow = load(".github/workflows/ci.yml")
    # PyYAML reads the key `on` as True (YAML 1.1).
    assert workflow[True]["schedule"] == [{"cron": "17 5 * * 1"}]
    job = workflow["jobs"]["latest"]
    assert "schedule" in job["if"]
    # Unlocked: the newest nox too, as the newest of everything else.
    assert job["steps"][-2:] == [
        {"run": "python -m pip install --group nox"},
        {"run": "nox -s latest"},
    ]
    assert workflow["permissions"] == {"contents": "read"}
    for step in job["steps"] + workflow["jobs"]["nox"]["steps"]:
        if "uses" in step:
            assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step


def test_nox_installs_the_toolchain_from_the_lock() -> None:
    """Every group in the lock, and every locked line pinned to one version."""
    lock = (ROOT / "requirements/toolchain.txt").read_text()
    header = lock.splitlines()[1]
    assert all(f"--group {group}" in header for group in ("nox", "lint", "bench"))
    for line in lock.splitlines():
        if line and not line.startswith((" ", "#")):
            assert Requirement(line).specifier.__str__().startswith("=="), line


def test_this_session_runs_the_locked_toolchain() -> None:
    """The lint session's tools (its group's own requirements) are the lock's."""
    locked = {}
    for line in (ROOT / "requirements/toolchain.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate():
                locked[canonicalize_name(requirement.name)] = str(requirement.specifier)
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    requirements = [
        Requirement(entry)
        for group in ("docs", "test", "lint")
        for entry in groups[group]
        if isinstance(entry, str)
    ]
    tools = [r.name for r in requirements if r.marker is None or r.marker.evaluate()]
    for tool in tools:
        assert f"=={metadata.version(tool)}" == locked[canonicalize_name(tool)], tool


def test_ci_script_runs_the_readme_command_verbatim() -> None:
    lines = (ROOT / ".ci/run").read_text().splitlines()
    assert readme_test_command() in lines


def test_every_supported_python_is_named_and_run() -> None:
    """The README, the install page and CI name the Pythons nox -s pythons runs."""
    first, last = SUPPORTED_PYTHONS[0], SUPPORTED_PYTHONS[-1]
    assert f"- Python {first} or newer" in (ROOT / "README.md").read_text()
    assert "nox -s pythons" in (ROOT / ".ci/run").read_text().splitlines()
    page = (ROOT / "docs/install.rst").read_text()
    assert f"The examples run on Python {first} to {last}:" in page
    for broker in BROKERS:
        rows = re.findall(rf":measured:`install\.pythons\.{broker}\.(\w+)`", page)
        assert rows == [version.replace(".", "_") for version in SUPPORTED_PYTHONS]
    # The weekly run of the newest releases takes the newest Python.
    steps = load(".github/workflows/ci.yml")["jobs"]["latest"]["steps"]
    [setup] = [step for step in steps if "setup-python" in step.get("uses", "")]
    assert setup["with"]["python-version"] == last


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


def test_nox_topic_finds_every_module_that_tests_one_topic() -> None:
    # A module that takes a topic's folders by example_params("<topic>") but
    # that topic_modules() misses would never run in `nox -s topic`.
    missed = {
        f"{module.name} ({topic})"
        for module in (ROOT / "tests").glob("test_*.py")
        for topic in re.findall(r'example_params\("(\w+)"\)', module.read_text())
        if module not in topic_modules(topic)
    }
    assert not missed
    assert {path.name for path in topic_modules("flask_melodramatiq")} >= {
        "test_integrations_flask_melodramatiq.py"
    }
