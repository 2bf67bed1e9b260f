"""docs/integrations.rst, "Flask-Melodramatiq": on Dramatiq 2 it stops at import.

The page's worker command, on each broker, exits at once with the TypeError
the page shows: the library builds Dramatiq's Results middleware without
the backend that Dramatiq 2 requires. `nox -s latest` runs it on the
library's newest release: when a release fixes it, this fails there, and
the page must change.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from support.examples import Example, assert_requirements_installed, example_params
from support.output import check_shown_output
from support.processes import rerun_until

PAGE = Path(__file__).resolve().parents[1] / "docs" / "integrations.rst"
ERROR = (
    "TypeError: Results.__init__() missing 1 required keyword-only argument: 'backend'"
)


@pytest.fixture(params=example_params("flask_melodramatiq"))
def example(request: pytest.FixtureRequest) -> Example:
    return Example(request.param)


def test_requirements_shown_are_installed(example: Example) -> None:
    assert_requirements_installed(example.path / "requirements.txt")


def test_the_page_names_the_release_the_requirements_pin(example: Example) -> None:
    requirements = (example.path / "requirements.txt").read_text()
    [pin] = re.findall(r"flask-melodramatiq==(\S+)", requirements)
    assert f"Flask-Melodramatiq {pin}" in PAGE.read_text()


@pytest.mark.smoke
def test_the_worker_stops_at_once_with_the_error_the_page_shows(
    example: Example,
) -> None:
    # The worker processes die at once, and the main process stops as soon as
    # one has: how many tracebacks get printed, and where the main process's
    # lines fall among them, varies, and some runs lose the main process's
    # "exited unexpectedly" line. Every run must exit 1; one must print the
    # lines the page shows.
    [command] = example.commands("worker")

    def run() -> str:
        result = subprocess.run(
            shlex.split(command),
            cwd=example.path,
            env={**os.environ, example.broker.url_variable: example.broker.url},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        return result.stderr

    def shows(stderr: str) -> bool:
        try:
            check_shown_output(example.path / "output.txt", first_failure(stderr))
        except (AssertionError, StopIteration):  # lines missing or out of order
            return False
        return True

    rerun_until(run, shows)


def first_failure(stderr: str) -> str:
    """The main process's log lines, then the first worker process's traceback."""
    lines = stderr.splitlines()
    logged = [line for line in lines if line.startswith("[")]
    start = next(i for i, line in enumerate(lines) if line.startswith("Process "))
    end = next(i for i in range(start, len(lines)) if ERROR in lines[i])
    return "\n".join([*logged, *lines[start : end + 1]])


def test_the_app_fails_the_same_way_and_the_library_swaps_the_actor_class(
    example: Example,
) -> None:
    """In a process of its own: importing the library changes dramatiq.actor."""
    script = (
        "import dramatiq, flask_melodramatiq\n"
        "print(dramatiq.actor.__kwdefaults__['actor_class'].__module__)\n"
        "import app\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=example.path,
        env={**os.environ, example.broker.url_variable: example.broker.url},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.stdout == "flask_melodramatiq.lazy_broker\n"
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith(ERROR)
