"""docs/queues.rst: count what waits, runs, is delayed and is dead, per broker.

The Procfile's worker (one thread) runs while the page's send.py queues a
dead letter, five long jobs and two delayed ones; the page's commands, run
here in the test's namespace, must then print the counts the page shows.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.examples import Example, example_params, with_empty_queues
from support.output import check_shown_output
from support.processes import wait_for

QUEUE = "jobs"
# What the page says the counts are: ready, in flight, delayed, dead.
EXPECTED = {
    "rabbitmq": ["jobs\t3\t2", "jobs.DQ\t0\t2", "jobs.XQ\t1\t0"],
    # ready, ready + in flight, delayed, dead
    "redis": ["3", "5", "2", "1"],
}


@pytest.fixture(name="example", params=example_params("queues"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


def counts_here(example: Example) -> str:
    """The page's counting commands, aimed at this test's namespace; their output."""
    docker = example.commands("counts")
    local = example.commands("counts-local")
    prefix = f"docker exec {example.broker.name} "
    # The two variants differ only by where the command runs.
    strip = [line.removeprefix(prefix).removeprefix("sudo ") for line in docker]
    assert strip == [line.removeprefix("sudo ") for line in local]
    namespace = example.broker.namespace
    script = "\n".join(strip)
    script = script.replace(
        "rabbitmqctl list_queues", f"rabbitmqctl list_queues -p {namespace}"
    )
    script = re.sub(
        r"^redis-cli ", f"redis-cli -n {namespace} ", script, flags=re.MULTILINE
    )
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout


@pytest.mark.smoke
def test_the_commands_count_what_send_py_queued(
    example: Example, tmp_path: Path
) -> None:
    worker = example.start("worker", tmp_path)
    try:
        worker.wait_for_output("is ready for action", timeout=20)
        [send] = example.commands("send")
        sent = subprocess.run(
            send.split(),
            cwd=example.path,
            env={**os.environ, example.broker.url_variable: example.broker.url},
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert sent == "Queued 8 messages.\n"
        printed = ""

        def counted() -> bool:
            nonlocal printed
            printed = counts_here(example)
            return printed.splitlines() == EXPECTED[example.broker.name]

        try:
            wait_for(counted, timeout=20, what="the page's counts")
        except AssertionError as error:
            raise AssertionError(f"{error}; the commands printed:\n{printed}") from None
    finally:
        worker.kill_group()

    check_shown_output(example.path / "counts.txt", printed)
    # max_retries=0: dead at the first failure, never retried.
    assert "Retries exceeded for message" in worker.output()
    assert "Retrying message" not in worker.output()
