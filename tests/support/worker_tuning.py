"""What the tests of docs/worker_tuning.rst share (tests/test_worker_tuning_*.py).

Timings (reload, shutdown, pickup latency) are printed with -s and asserted
only within generous bounds: the test machine may be small and busy.

The fixture ``example`` is a plain fixture: a test module binds it by name,
and pytest finds it there.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.examples import Example, example_params, with_empty_queues
from support.processes import Process

# The example's two queues: notify() on the fast one, build_report() on the slow.
FAST_QUEUE = "tuning"
SLOW_QUEUE = "tuning-slow"
BOOTED = "is booting up."
# The PID the guide's output shows for the worker's main process.
SHOWN_PID = "4100"


@pytest.fixture(name="example", params=example_params("worker_tuning"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(
        Example(request.param), queues=(FAST_QUEUE, SLOW_QUEUE)
    )


def start_and_wait_for_boot(
    example: Example, process_type: str, tmp_path: Path
) -> Process:
    """Start a Procfile line and wait until its worker consumes."""
    worker = example.start(process_type, tmp_path)
    worker.wait_for_output(BOOTED, timeout=30)
    return worker


def ready_in_queue(example: Example, queue: str) -> int:
    """Messages waiting in ``queue`` itself: not delayed, not taken by a worker."""
    if example.broker.name == "rabbitmq":
        import pika

        parameters = pika.URLParameters(example.broker.url)
        with pika.BlockingConnection(parameters) as connection:
            declared = connection.channel().queue_declare(queue, passive=True)
            return declared.method.message_count
    import redis

    return redis.Redis.from_url(example.broker.url).llen(f"dramatiq:{queue}")


def editable_copy(example: Example, tmp_path: Path) -> Example:
    """A copy of the example folder to edit: the tests never edit examples/."""
    copy = tmp_path / "project" / example.path.name
    shutil.copytree(example.path, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return Example(copy)
