"""docs/worker_tuning.rst, 'Cut the pickup delay on Redis'.

An idle RabbitMQ worker starts a message at once; an idle Redis worker polls,
and ``dramatiq_worker_timeout`` trades more polling for a shorter pickup delay.
Latencies are printed with -s.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support.examples import Example, example_params, with_empty_queues
from support.processes import Process, wait_for
from support.worker_tuning import (
    BOOTED,
    FAST_QUEUE,
    SLOW_QUEUE,
    start_and_wait_for_boot,
)

LOWER_TIMEOUT = "env dramatiq_worker_timeout=40 "


def only(broker: str) -> list:
    return [param for param in example_params("worker_tuning") if param.id == broker]


@pytest.fixture(params=only("rabbitmq"))
def rabbitmq_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(
        Example(request.param), queues=(FAST_QUEUE, SLOW_QUEUE)
    )


@pytest.fixture(params=only("redis"))
def redis_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(
        Example(request.param), queues=(FAST_QUEUE, SLOW_QUEUE)
    )


def pickup_latencies(
    targets: list[tuple[Process, Callable[[str], object]]],
    samples: int,
    *,
    idle: bool = False,
) -> list[list[float]]:
    """Seconds from sending to the actor's output, each sent to an idle worker.

    ``targets``: each worker, with the function that sends ``notify(text)`` to
    it. All of them get each sample at once, so they share the idle waits.
    ``idle``: the workers have just been idle for 3 s, so the first sample
    need not wait.
    """
    latencies: list[list[float]] = [[] for _ in targets]
    for sample in range(samples):
        # Deliberately idle: the Redis consumer backs off to its longest
        # poll interval after about 2 s without messages.
        if sample or not idle:
            time.sleep(3)
        text = f"ping {sample}"
        sent = []
        for _, send in targets:
            sent.append(time.monotonic())
            send(text)
        seen = first_seen([worker for worker, _ in targets], f"Notified: {text}")
        for index, at in enumerate(seen):
            latencies[index].append(at - sent[index])
    return latencies


def first_seen(workers: list[Process], expected: str) -> list[float]:
    """When (monotonic) each worker's output first showed ``expected``."""
    seen: dict[int, float] = {}

    def all_seen() -> bool:
        now = time.monotonic()
        for index, worker in enumerate(workers):
            if index not in seen and expected in worker.output():
                seen[index] = now
        return len(seen) == len(workers)

    # Poll often: on RabbitMQ, the whole trip takes a few milliseconds.
    wait_for(
        all_seen, timeout=10, what=f"{expected!r} from the workers", interval=0.002
    )
    return [seen[index] for index in range(len(workers))]


def idle_fetches_per_second(
    example: Example, databases: list[int], seconds: float
) -> dict[int, float]:
    """How often the workers ask Redis for messages of our queues, while idle,
    in each of ``databases``."""
    import redis

    # The idle workers themselves send a command at least every second, so
    # MONITOR never waits long; the timeout only stops a hung test.
    client = redis.Redis.from_url(example.broker.url, socket_timeout=10)
    fetches = dict.fromkeys(databases, 0)
    deadline = time.monotonic() + seconds
    with client.monitor() as monitor:
        while time.monotonic() < deadline:
            # EVALSHA <sha> 1 dramatiq fetch <timestamp> <queue> ...
            entry = monitor.next_command()
            command = entry["command"].split()[4:7]
            if entry["db"] not in fetches:
                continue  # MONITOR shows every database: skip other tests'.
            if command[:1] == ["fetch"] and command[2:] in (
                [FAST_QUEUE],
                [f"{FAST_QUEUE}.DQ"],
            ):
                fetches[entry["db"]] += 1
    return {database: count / seconds for database, count in fetches.items()}


def format_ms(latencies: list[float]) -> str:
    return ", ".join(f"{latency * 1000:.0f}" for latency in latencies) + " ms"


@pytest.mark.measure
def test_rabbitmq_idle_worker_picks_up_at_once(
    rabbitmq_example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = rabbitmq_example
    worker = start_and_wait_for_boot(example, "worker", tmp_path)
    try:
        notify = example.load("tasks", monkeypatch).notify
        [latencies] = pickup_latencies([(worker, notify.send)], samples=4)
    finally:
        worker.kill_group()
    print(f"\n[rabbitmq] idle pickup latency: {format_ms(latencies)}")
    assert statistics.median(latencies) < 0.5


@pytest.mark.measure
def test_redis_lower_worker_timeout_picks_up_sooner_and_polls_more(
    redis_example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dramatiq.brokers.redis import RedisBroker

    example = redis_example
    tuned_command = example.procfile_command("worker")
    assert tuned_command.startswith(LOWER_TIMEOUT)
    notify = example.load("tasks", monkeypatch).notify
    # Both workers run at once, so they share the idle waits: the tuned one
    # in this test's database, the default one in Redis's last database.
    # Test processes use databases 1 to 12 at most (processes.py has ports
    # for 12), and only one test process runs this test.
    spare_url = example.broker.url_in_namespace(15)
    spare = RedisBroker(url=spare_url)
    for key in spare.client.scan_iter(match=f"dramatiq:*{FAST_QUEUE}*"):
        spare.client.delete(key)
    spare.declare_queue(FAST_QUEUE)
    setups = {
        "default": (tuned_command.removeprefix(LOWER_TIMEOUT), spare_url),
        "dramatiq_worker_timeout=40": (tuned_command, example.broker.url),
    }
    workers = {
        name: Process(
            command,
            cwd=example.path,
            env={example.broker.url_variable: url},
            log=tmp_path / f"latency-{name}.log",
        )
        for name, (command, url) in setups.items()
    }
    databases = {
        name: int(urlsplit(url).path.strip("/")) for name, (_, url) in setups.items()
    }
    try:
        for worker in workers.values():
            worker.wait_for_output(BOOTED, timeout=30)
        time.sleep(3)  # Let the consumers back off to their idle pace.
        polls = idle_fetches_per_second(example, list(databases.values()), seconds=3)
        # The 3 s of counting were idle too: the first sample goes at once.
        default_latencies, tuned_latencies = pickup_latencies(
            [
                (workers["default"], lambda text: spare.enqueue(notify.message(text))),
                (workers["dramatiq_worker_timeout=40"], notify.send),
            ],
            samples=4,
            idle=True,
        )
    finally:
        for worker in workers.values():
            worker.kill_group()
        spare.close()
    default_polls = polls[databases["default"]]
    tuned_polls = polls[databases["dramatiq_worker_timeout=40"]]
    for name, rate, latencies in [
        ("default", default_polls, default_latencies),
        ("dramatiq_worker_timeout=40", tuned_polls, tuned_latencies),
    ]:
        print(
            f"\n[redis] {name}: {rate:.1f} idle fetches/s; "
            f"idle pickup latency {format_ms(latencies)}"
        )

    # About 25 times the polling, for a pickup in tens of milliseconds.
    assert tuned_polls > 10 * default_polls
    assert statistics.median(tuned_latencies) < 0.1
    assert max(default_latencies) < 3
