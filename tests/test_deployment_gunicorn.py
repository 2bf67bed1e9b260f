"""docs/deployment.rst, 'Serve the app with gunicorn'.

The Procfile's two lines, started for real: gunicorn answers the guide's
request on the loopback, and the worker runs the task.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.deployment import (
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_running,  # noqa: F401  (the fixture "running")
    post_the_guides_request,
    start_web,
    start_worker,
)
from support.examples import Example
from support.processes import Process, port_is_open, wait_for


@pytest.mark.smoke
def test_procfile_gunicorn_answers_on_loopback_and_the_worker_runs_the_task(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    worker = start_worker(example, tmp_path, running)
    web, port = start_web(example, tmp_path, running, {})
    wait_for(lambda: port_is_open(port), timeout=15, what="gunicorn")

    assert post_the_guides_request(example, port)["message_id"]
    worker.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)

    assert web.terminate(timeout=35) == 0
    assert worker.terminate(timeout=15) == 0
    assert web.output().count("Booting worker with pid") == 2  # --workers 2
    assert "Using worker: gthread" in web.output()  # --threads 4
