"""docs/troubleshooting.rst, 'Set up the examples' and 'The worker refuses ``--watch``'.

Both sections are about what requirements.txt installs: the packages the
page's examples need, and the ``watch`` extra without which ``--watch`` stops
the worker at once.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from support.examples import Example, assert_requirements_installed
from support.output import check_shown_output
from support.processes import Process
from support.troubleshooting import (
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_running,  # noqa: F401  (the fixture "running")
    read_example_file,
    start_worker,
)

# --- Set up the examples ---------------------------------------------------


def test_requirements_shown_are_installed(example: Example) -> None:
    assert_requirements_installed(example.path / "requirements.txt")


# --- The worker refuses --watch --------------------------------------------


def test_watch_without_the_watch_extra_stops_with_a_critical_error(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("the test makes a virtualenv without the extra with uv")
    [dramatiq] = [
        requirement
        for line in read_example_file(example, "requirements.txt").splitlines()
        if (requirement := Requirement(line)).name == "dramatiq"
    ]
    assert "watch" in dramatiq.extras, "the fix: the extra is required"
    without_watch = f"dramatiq[{','.join(sorted(dramatiq.extras - {'watch'}))}]"
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True, timeout=60)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
        + [f"{without_watch}=={metadata.version('dramatiq')}"],
        check=True,
        timeout=300,
    )

    [command] = example.commands("watch")
    result = subprocess.run(
        shlex.split(command),
        cwd=example.path,
        env={**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    check_shown_output(
        example.path / "watch.txt",
        result.stderr,
        start="Watching for source changes",
        end="Watching for source changes",
    )

    # The fix: requirements.txt has the extra, and the same command boots.
    worker = start_worker(example, command, tmp_path, running)
    assert "CRITICAL" not in worker.output()
