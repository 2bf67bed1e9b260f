"""Example folders as the tests use them: one broker folder, its params."""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from types import ModuleType

import dramatiq
import pytest
from flask import Flask
from packaging.requirements import Requirement

from markers import marked_lines
from support.brokers import BROKERS, REDIS, Broker
from support.processes import Process, free_port, port_is_open, wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# Modules that stay imported across tests: Python's, the virtualenv's, ours.
LASTING_MODULES = (sys.prefix, sys.base_prefix, str(ROOT / "tests"), str(ROOT / "docs"))

# What every example view answers, with a 503, when it cannot queue a job.
BROKER_UNAVAILABLE = {"error": "The message broker is unavailable. Try again later."}


class Example:
    """One broker folder of an example, e.g. ``examples/quickstart/redis``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.broker: Broker = BROKERS[path.name]

    def __repr__(self) -> str:
        return f"Example({self.path.relative_to(EXAMPLES)})"

    def procfile_command(self, process_type: str) -> str:
        """The command line the Procfile (and so the guide) gives ``process_type``."""
        for line in (self.path / "Procfile").read_text().splitlines():
            name, _, command = line.partition(":")
            if name.strip() == process_type and not line.startswith("#"):
                return command.strip()
        raise LookupError(f"no {process_type!r} line in {self.path / 'Procfile'}")

    def commands(self, section: str) -> list[str]:
        """The shell commands between ``# [docs:<section>]`` markers in commands.sh."""
        return marked_lines(self.path / "commands.sh", section)

    def start(
        self, process_type: str, tmp_path: Path, env: dict[str, str] | None = None
    ) -> Process:
        return Process(
            self.procfile_command(process_type),
            cwd=self.path,
            env={self.broker.url_variable: self.broker.url, **(env or {})},
            log=tmp_path / f"{self.path.parent.name}-{process_type}.log",
        )

    @contextmanager
    def web_server(self, tmp_path: Path, url: str | None = None) -> Iterator[int]:
        """The Procfile's web command, as written, serving on a free port.

        ``flask run`` takes the port from FLASK_RUN_PORT; a gunicorn line's
        127.0.0.1:8000 is rewritten. The broker is ``url``, or the test's.
        Yields the port once it accepts connections.
        """
        port = free_port()
        command = self.procfile_command("web")
        web = Process(
            command.replace("127.0.0.1:8000", f"127.0.0.1:{port}"),
            cwd=self.path,
            env={
                "FLASK_RUN_PORT": str(port),
                "XDG_RUNTIME_DIR": str(tmp_path),  # gunicorn's control socket
                self.broker.url_variable: url or self.broker.url,
            },
            log=tmp_path / f"{self.path.parent.name}-web.log",
        )
        try:
            wait_for(lambda: port_is_open(port), timeout=15, what=command)
            yield port
        finally:
            web.kill_group()

    def defined(self, *names: str) -> object:
        """The one value that the loaded modules of this folder give the first
        of ``names`` they define (e.g. BROKER_ERRORS or CONNECTION_ERRORS)."""
        [value] = {
            getattr(module, name)
            for module in list(sys.modules.values())
            if str(getattr(module, "__file__", "")).startswith(str(self.path))
            for name in names
            if hasattr(module, name)
        }
        return value

    def web_app(self, monkeypatch: pytest.MonkeyPatch) -> Flask:
        """The Flask app the Procfile's web command serves, imported here.

        Flask's own lookup finds it, as `flask --app` does: an ``app``
        variable or a ``create_app()`` factory. A gunicorn line names it as
        its last argument, ``module:variable``.
        """
        from flask.cli import locate_app

        args = shlex.split(self.procfile_command("web"))
        target = args[args.index("--app") + 1] if "--app" in args else args[-1]
        module, _, name = target.partition(":")
        self.load(module, monkeypatch)
        app = locate_app(module, name or None)
        # Flask-Dramatiq keeps its broker in app.extensions; `flask worker`
        # makes it the global one, and so does this, for the tests to find it.
        for extension in app.extensions.values():
            if isinstance(getattr(extension, "broker", None), dramatiq.Broker):
                dramatiq.set_broker(extension.broker)
        return app

    def load(self, module: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
        """Import one of the example's modules in this process, fresh.

        The examples use absolute imports (``from tasks import add``), as a
        reader's project would, so the folder goes first on ``sys.path`` and
        modules of an earlier test are forgotten: an example's, or one a test
        wrote to its tmp_path (its actors are bound to that test's broker).
        """
        monkeypatch.syspath_prepend(str(self.path))
        for name in [*sys.modules]:
            mod_file = getattr(sys.modules[name], "__file__", None) or ""
            if mod_file and not mod_file.startswith(LASTING_MODULES):
                monkeypatch.delitem(sys.modules, name)
        for path in self.path.glob("*.py"):
            monkeypatch.delitem(sys.modules, path.stem, raising=False)
        return importlib.import_module(module)


def assert_requirements_installed(requirements: Path) -> None:
    """Every line of ``requirements`` is installed here, in a version it allows,
    with the dependencies of the extras it names."""
    for line in requirements.read_text().splitlines():
        requirement = Requirement(line)
        installed = metadata.version(requirement.name)  # Raises if missing.
        assert requirement.specifier.contains(installed), (line, installed)
        for extra in requirement.extras:
            for dependency in map(Requirement, metadata.requires(requirement.name)):
                if dependency.marker and dependency.marker.evaluate({"extra": extra}):
                    metadata.version(dependency.name)  # Raises if missing.


def every_example_params() -> list:
    """One pytest param per broker folder of every example topic that runs:
    one with a Procfile. (examples/flask_melodramatiq has none: its page shows
    how it fails on Dramatiq 2.)"""
    return [
        pytest.param(
            folder, id=f"{folder.parent.name}-{name}", marks=getattr(pytest.mark, name)
        )
        for name in BROKERS
        for folder in sorted(EXAMPLES.glob(f"*/{name}"))
        if (folder / "Procfile").exists()
    ]


def every_web_example_params() -> list:
    """every_example_params() of the examples with a Flask app (a web process).

    The periodic jobs' example has none: a worker and a scheduler only.
    """
    return [param for param in every_example_params() if has_web_app(param.values[0])]


def has_web_app(folder: Path) -> bool:
    """Whether the example's Procfile has a web process."""
    return "web:" in (folder / "Procfile").read_text()


def example_params(topic: str) -> list:
    """One pytest param per broker folder of ``examples/<topic>``, marked and named."""
    return [
        pytest.param(
            EXAMPLES / topic / name,
            id=name,
            marks=getattr(pytest.mark, name),
        )
        for name in BROKERS
    ]


_namespaces_ready: set[str] = set()


def reachable(example: Example) -> Example:
    """Fail in one line unless the example's broker (and namespace) answers."""
    if not example.broker.is_reachable():
        pytest.fail(example.broker.unreachable_message(), pytrace=False)
    if example.broker.name not in _namespaces_ready:
        try:
            example.broker.ensure_namespace()
        except RuntimeError as error:
            pytest.fail(str(error), pytrace=False)
        _namespaces_ready.add(example.broker.name)
    return example


def with_empty_queues(example: Example, queues: tuple[str, ...]) -> Iterator[Example]:
    """A fixture's body: check the example's broker is up, and leave ``queues``
    empty before and after the test."""
    reachable(example)
    for queue in queues:
        example.broker.flush(queue)
    yield example
    for queue in queues:
        example.broker.flush(queue)


def with_redis_and_empty_queues(
    example: Example, queues: tuple[str, ...]
) -> Iterator[Example]:
    """with_empty_queues(), for an example that keeps state in Redis with
    either broker (results, progress, counters): Redis must answer too."""
    if not REDIS.is_reachable():
        pytest.fail(REDIS.unreachable_message(), pytrace=False)
    yield from with_empty_queues(example, queues)


def location_header(answer: str) -> str:
    """The Location header of a response that ``curl --include`` printed."""
    found = re.search(r"^Location: (\S+)", answer, re.MULTILINE)
    assert found, f"no Location header in:\n{answer}"
    return found.group(1)


def run_against_flask(command: str, port: int, *, shell: bool = False) -> str:
    """Run a command from commands.sh against the Flask app on ``port``.

    The guide's commands target Flask's default 127.0.0.1:5000; the tests
    serve the app on a free port instead. Returns what the command printed.
    """
    assert "127.0.0.1:5000" in command, "the guide's requests target Flask's port"
    command = command.replace("127.0.0.1:5000", f"127.0.0.1:{port}")
    return subprocess.run(
        command if shell else shlex.split(command),
        shell=shell,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
