"""What the tests of docs/troubleshooting.rst share (tests/test_troubleshooting_*.py).

Each of those tests runs the broken module the page shows with a real worker
and a real broker, checks that the reader sees the error text the page shows,
then runs the fixed code and checks the error is gone. Symptoms that take
minutes or days (retry backoff, Redis redelivery, RabbitMQ's consumer_timeout)
are reproduced in a bounded way that still shows their mechanism.

The fixtures ``example`` and ``running`` are plain fixtures: a test module
binds them by name, and pytest finds them there.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.examples import Example, example_params, with_empty_queues
from support.processes import Process, free_port, port_is_open, wait_for

QUEUE = "troubleshooting"
BOOTED = "is booting up."
WEB_ADDRESS = "127.0.0.1:8000"


def with_settled_empty_queues(example: Example) -> Iterator[Example]:
    """``with_empty_queues()``, then flush again once killed workers let go of their messages.

    The ``running`` fixture has killed the test's workers by then, but RabbitMQ
    may requeue what they held after with_empty_queues() flushed, and Redis keeps it.
    """
    yield from with_empty_queues(example, queues=(QUEUE,))
    if example.broker.name == "rabbitmq":
        wait_for(
            lambda: not rabbitmq_consumers(example),
            timeout=15,
            what="killed workers to disconnect",
        )
    drop_unacked(example)
    example.broker.flush(QUEUE)


def rabbitmq_consumers(example: Example) -> int:
    import pika

    parameters = pika.URLParameters(example.broker.url)
    with pika.BlockingConnection(parameters) as connection:
        total = 0
        for name in (QUEUE, f"{QUEUE}.DQ"):
            channel = connection.channel()
            try:
                total += channel.queue_declare(name, passive=True).method.consumer_count
            except pika.exceptions.ChannelClosedByBroker:
                pass  # The queue does not exist yet.
        return total


def drop_unacked(example: Example) -> None:
    """Forget messages killed Redis workers held; Redis would requeue them later."""
    if example.broker.name == "redis":
        import redis

        client = redis.Redis.from_url(example.broker.url)
        for key in client.scan_iter(f"dramatiq:__acks__.*.{QUEUE}*"):
            client.delete(key)


@pytest.fixture(name="example", params=example_params("troubleshooting"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_settled_empty_queues(Example(request.param))


@pytest.fixture(name="running")
def fixture_running() -> Iterator[list[Process]]:
    """Processes a test starts; all killed, with their children, at the end."""
    processes: list[Process] = []
    yield processes
    for process in processes:
        process.kill_group()


def read_example_file(example: Example, name: str) -> str:
    return (example.path / name).read_text()


def start(
    example: Example,
    command: str,
    tmp_path: Path,
    running: list[Process],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Process:
    """Start one command of commands.sh or the Procfile, logged to its own file."""
    process = Process(
        command,
        cwd=cwd or example.path,
        env={example.broker.url_variable: example.broker.url, **(env or {})},
        log=tmp_path / f"{len(running)}-{shlex.split(command)[0]}.log",
    )
    running.append(process)
    return process


def start_worker(
    example: Example,
    command: str,
    tmp_path: Path,
    running: list[Process],
    env: dict[str, str] | None = None,
) -> Process:
    worker = start(example, command, tmp_path, running, env)
    worker.wait_for_output(BOOTED, timeout=30)
    return worker


def shell(
    command: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run one line of commands.sh through the shell, as a reader types it."""
    inherited = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env={**inherited, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def serve(
    example: Example, command: str, tmp_path: Path, running: list[Process]
) -> tuple[Process, int]:
    """Start a web command of commands.sh or the Procfile on a free port."""
    assert WEB_ADDRESS in command
    port = free_port()
    web = start(
        example,
        command.replace(WEB_ADDRESS, f"127.0.0.1:{port}"),
        tmp_path,
        running,
        # gunicorn puts its control socket in XDG_RUNTIME_DIR: keep it here.
        env={"XDG_RUNTIME_DIR": str(tmp_path)},
    )
    wait_for(lambda: port_is_open(port), timeout=20, what="gunicorn")
    return web, port
