"""docs/metrics.rst: the worker and the app count what they do, for Prometheus.

The Procfile's worker and web processes run for real; the page's request
queues an import that fails. The page's commands then read the worker's
counts, through its metrics server, and the app's, through gunicorn's main
process: what they print is what the page shows.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.examples import Example, example_params, with_empty_queues
from support.metrics import listening_addresses, printed, running
from support.output import check_shown_output
from support.processes import wait_for

QUEUE = "feeds"


@pytest.fixture(name="example", params=example_params("metrics"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.mark.smoke
def test_the_worker_and_the_app_count_a_failing_import(
    example: Example, tmp_path: Path
) -> None:
    with running(example, tmp_path) as run:
        [request] = [c for c in example.commands("request") if c.startswith("curl")]
        answer = subprocess.run(
            shlex.split(run.here(request)),
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        assert json.loads(answer.stdout)["message_id"]
        # grep exits 1 while nothing matches yet: no check of its exit code.
        [worker_counts] = example.commands("worker-metrics")
        wait_for(
            lambda: (
                "dramatiq_message_rejects_total"
                in printed(run.here(worker_counts), check=False)
            ),
            timeout=30,
            what="the import to fail for good",
        )
        check_shown_output(
            example.path / "worker-metrics.txt",
            printed(run.here(worker_counts), check=False),
        )
        [app_counts] = example.commands("app-metrics")
        check_shown_output(
            example.path / "app-metrics.txt", printed(run.here(app_counts), check=False)
        )

        # Both metrics servers on 127.0.0.1 only; none on the app's own port.
        for name in ("worker_metrics", "app_metrics"):
            assert listening_addresses(run.ports[name]) == {"127.0.0.1"}, name
        metrics_on_app_port = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
             f"http://127.0.0.1:{run.ports['web']}/metrics"],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        assert metrics_on_app_port.stdout == "404"

        # gunicorn made a folder for its workers' counts, and removes it on exit.
        assert len(app_folders(run.web_tmp)) == 1
        assert run.web.terminate(timeout=30) == 0
        assert app_folders(run.web_tmp) == []


def app_folders(tmp: Path) -> list[Path]:
    return list(tmp.glob("app-metrics-*"))
