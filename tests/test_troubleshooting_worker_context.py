"""docs/troubleshooting_tasks.rst, what the worker lacks that a request has: 'The
actor fails with "Working outside of application context"' and 'The worker
prints "The sum of 1 and 2 is 12."'.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from support.examples import Example
from support.output import check_shown_output
from support.processes import Process
from support.troubleshooting import (
    WEB_ADDRESS,
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_running,  # noqa: F401  (the fixture "running")
    serve,
    shell,
    start_worker,
)

# --- The actor fails with "Working outside of application context" ---------


def test_actor_using_current_app_fails_outside_an_app_context(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    worker_command, send = example.commands("no-app-context")
    worker = start_worker(example, worker_command, tmp_path, running)
    assert shell(send, example.path).returncode == 0

    worker.wait_for_output("Working outside of application context.", timeout=20)
    worker.wait_for_output("Retrying message", timeout=10)
    check_shown_output(
        example.path / "no-app-context.txt",
        worker.output(),
        start="Failed to process message",
        end="Retrying message",
    )


# --- The worker prints "The sum of 1 and 2 is 12." -------------------------


@pytest.mark.smoke
def test_view_sending_form_strings_makes_the_worker_print_12(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    web_command, curl = example.commands("string-view")
    worker = start_worker(
        example, example.procfile_command("worker"), tmp_path, running
    )
    web, port = serve(example, web_command, tmp_path, running)

    def request(port: int) -> dict:
        answer = subprocess.run(
            shlex.split(curl.replace(WEB_ADDRESS, f"127.0.0.1:{port}")),
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return json.loads(answer.stdout)

    assert request(port)["message_id"]
    worker.wait_for_output("The sum of 1 and 2 is 12.", timeout=20)
    check_shown_output(
        example.path / "string-args.txt",
        worker.output(),
        start="The sum of",
        end="The sum of",
    )
    web.kill_group()

    # The fix: app.py converts and validates the fields.
    web, port = serve(example, example.procfile_command("web"), tmp_path, running)
    assert request(port)["message_id"]
    worker.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)
