"""docs/troubleshooting_tasks.rst, when the broker delivers a message again: 'A
crashed worker's task runs again minutes later' and 'RabbitMQ closes the
channel of a delayed task'.

Neither test waits as long as a reader would: the crash test shows Redis not
redelivering for 7 s, then the reliability page's settings bringing the task
back; the consumer_timeout test reads the shared broker's setting and shows
the delayed message held unacknowledged, but does not wait 30 minutes.
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.brokers import RABBITMQ
from support.examples import EXAMPLES, Example, example_params
from support.figures import record
from support.processes import Process, stays_false, wait_for
from support.troubleshooting import (
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_running,  # noqa: F401  (the fixture "running")
    read_example_file,
    shell,
    start_worker,
    with_settled_empty_queues,
)


def only(broker: str) -> list:
    return [p for p in example_params("troubleshooting") if p.id == broker]


@pytest.fixture(params=only("rabbitmq"))
def rabbitmq_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_settled_empty_queues(Example(request.param))


# --- A crashed worker's task runs again minutes later ----------------------

SLOW_ACTOR_MODULE = """
import time

import dramatiq

from tasks import broker


@dramatiq.actor(broker=broker, queue_name="troubleshooting", actor_name="ts_slow")
def slow() -> None:
    print("slow task started", flush=True)
    time.sleep(30)
"""


def fast_redelivery() -> str:
    """A module that gives the worker's broker the reliability page's settings."""
    tasks = (EXAMPLES / "reliability" / "redis" / "tasks.py").read_text()
    [broker] = [
        node
        for node in ast.walk(ast.parse(tasks))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "RedisBroker"
    ]
    settings = {
        keyword.arg: ast.literal_eval(keyword.value)
        for keyword in broker.keywords
        if keyword.arg in ("heartbeat_timeout", "maintenance_chance")
    }
    assert len(settings) == 2, "the reliability example sets both"
    lines = [f"broker.{name} = {value!r}" for name, value in settings.items()]
    return "\n".join(["from tasks import broker", *lines, ""])


@pytest.mark.measure
def test_crashed_workers_task_comes_back_at_once_on_rabbitmq_after_a_minute_on_redis(
    example: Example,
    tmp_path: Path,
    running: list[Process],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "ts_slow.py").write_text(SLOW_ACTOR_MODULE)
    (tmp_path / "fast_redelivery.py").write_text(fast_redelivery())
    monkeypatch.syspath_prepend(str(tmp_path))
    env = {"PYTHONPATH": str(tmp_path)}
    worker = example.procfile_command("worker")
    command = f"{worker} ts_slow --processes 1"
    try:
        first = start_worker(example, command, tmp_path, running, env)
        example.load("ts_slow", monkeypatch).slow.send()
        first.wait_for_output("slow task started", timeout=20)
        # A crash: the worker and its processes die at once, mid-task.
        first.kill_group()
        crashed_at = time.monotonic()

        second = start_worker(example, command, tmp_path, running, env)
        if example.broker.name == "rabbitmq":
            # RabbitMQ requeues what the dead connection held, at once.
            second.wait_for_output("slow task started", timeout=10)
            return

        # Redis requeues it only in maintenance, after the heartbeat timeout.
        from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

        defaults = RedisBroker(url=example.broker.url)
        assert defaults.heartbeat_timeout == 60_000
        assert defaults.maintenance_chance / MAINTENANCE_SCALE == 1 / 1000
        assert stays_false(lambda: "slow task started" in second.output(), 7)
        second.kill_group()

        # The fix: a shorter heartbeat timeout, and maintenance on every call.
        fast = start_worker(
            example,
            f"{worker} ts_slow fast_redelivery --processes 1",
            tmp_path,
            running,
            env,
        )
        fast.wait_for_output("slow task started", timeout=30)
        # Not before the heartbeat timeout of 10 s, and soon after it.
        after = time.monotonic() - crashed_at
        print(f"\n[redis] the fixed worker ran the task {after:.1f} s after the crash")
        record("troubleshooting", "tuned_redis_rerun_seconds", round(after, 1))
        assert 8 <= after <= 20, after
    finally:
        for process in running:
            process.kill_group()


# --- RabbitMQ closes the channel of a delayed task -------------------------


def rabbitmqctl(command: str) -> str:
    """A rabbitmqctl line of commands.sh, run on this machine's RabbitMQ."""
    assert command.startswith("docker exec rabbitmq rabbitmqctl ")
    local = command.removeprefix("docker exec rabbitmq ")
    if local.startswith("rabbitmqctl list_queues "):  # In the test's own vhost:
        listing, pipe, rest = local.partition(" | ")
        local = shlex.join(RABBITMQ.cli_command(shlex.split(listing))) + pipe + rest
    result = shell(local, Path.cwd(), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.skipif(not shutil.which("rabbitmqctl"), reason="needs rabbitmqctl")
def test_worker_holds_a_message_delayed_past_consumer_timeout_unacknowledged(
    rabbitmq_example: Example, tmp_path: Path, running: list[Process]
) -> None:
    example = rabbitmq_example
    [read_timeout] = example.commands("consumer-timeout")
    # The shared broker's setting is read, never changed.
    assert rabbitmqctl(read_timeout) == read_example_file(
        example, "consumer-timeout.txt"
    )
    [timeout_ms] = re.findall(
        r"\{ok,(\d+)\}", read_example_file(example, "consumer-timeout.txt")
    )

    start_worker(example, example.procfile_command("worker"), tmp_path, running)
    send, list_queues = example.commands("delay")
    assert "delay=3_600_000" in send and 3_600_000 > int(timeout_ms)
    assert shell(send, example.path).returncode == 0

    def queues() -> list[str]:
        return sorted(rabbitmqctl(list_queues).splitlines())

    # The worker takes the delayed message at once and holds it, unacked,
    # until it is due: an hour, past RabbitMQ's consumer_timeout.
    wait_for(
        lambda: (
            queues() == sorted(read_example_file(example, "delayed.txt").splitlines())
        ),
        timeout=15,
        what="the worker to hold the delayed message unacknowledged",
        interval=0.5,
    )
