"""docs/results.rst, "Set up the project": the Procfile, the broker commands and
the requirements install what the code runs and imports."""

from __future__ import annotations

import ast
import re
import shlex
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from support.examples import (
    EXAMPLES,
    Example,
)
from support.results import QUEUE, fixture_example  # noqa: F401  (the fixture "example")


def test_procfile_is_the_one_from_the_workers_page(example: Example) -> None:
    # results.rst says so: the only difference is the broker's, in both pages.
    quickstart = EXAMPLES / "quickstart" / example.path.name / "Procfile"
    assert (example.path / "Procfile").read_text() == quickstart.read_text()


def test_start_broker_commands_publish_on_loopback_and_start_redis(
    example: Example,
) -> None:
    commands = example.commands("start-broker")
    # Both variants keep their results in Redis, the RabbitMQ one too.
    names = {"rabbitmq": ["rabbitmq", "redis"], "redis": ["redis"]}
    assert [shlex.split(c)[4] for c in commands] == names[example.broker.name]
    for command in commands:
        # On loopback only: a broker open to the network is open to anyone.
        assert re.search(r"--publish 127\.0\.0\.1:(\d+):\1 ", command), command


def test_requirements_install_every_package_the_code_imports(
    example: Example,
) -> None:
    # The RabbitMQ variant imports redis too: its requirements must say so.
    installed = required_distributions(example.path / "requirements.txt")
    owners = metadata.packages_distributions()
    local = {path.stem for path in example.path.glob("*.py")}
    for path in sorted(example.path.glob("*.py")):
        for module in sorted(top_level_imports(path) - local):
            if module in sys.stdlib_module_names:
                continue
            providers = {canonicalize_name(d) for d in owners.get(module, [])}
            assert providers & installed, (
                f"{path.name} imports {module}, which requirements.txt does not "
                f"install (installs: {sorted(installed)})"
            )


def required_distributions(requirements: Path) -> set[str]:
    """Every distribution ``pip install -r requirements`` installs, dependencies too."""
    todo = [Requirement(line) for line in requirements.read_text().splitlines()]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        for line in metadata.requires(requirement.name) or []:
            dependency = Requirement(line)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(
                dependency.marker.evaluate({"extra": extra}) for extra in extras
            ):
                todo.append(dependency)
    return {name for name, _ in seen}


def top_level_imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.partition(".")[0])
    return modules
