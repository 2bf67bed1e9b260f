"""3. Pickup latency: send -> done on an idle worker, and what idling costs."""

from __future__ import annotations

import os
import random
import threading
import time
from types import ModuleType

from benchmark.example import Example, Probe, process_group_cpu_seconds
from benchmark.settings import (
    DEFAULT_WORKER_TIMEOUT,
    QUEUE,
    TIMEOUT_VARIABLE,
    Counts,
)
from benchmark.stats import summary


def redis_fetches(url: str, seconds: float, found: list[int]) -> None:
    """Count the fetches of the bench queues Redis runs in ``seconds`` (MONITOR)."""
    import redis

    # No read timeout: redis-py drops the connection after one. The idle
    # worker itself polls at least once a second, so reads do return.
    client = redis.Redis.from_url(url)
    count = 0
    with client.monitor() as monitor:
        start = time.time()
        while True:
            command = monitor.next_command()
            if command["time"] > start + seconds:
                break
            words = command["command"].split()
            if "fetch" in words and {QUEUE, f"{QUEUE}.DQ"} & set(words):
                count += 1
    client.close()
    found.append(count)


def ramp_seconds(timeout_ms: int) -> float:
    """The longest time the Redis consumer takes to back off to its cap when idle.

    It sleeps 5 ms after its first empty fetch, then twice as long after
    each next one (jittered up to 2x), until it reaches ``timeout_ms``.
    """
    total, step = 0.0, 5.0
    while step < timeout_ms:
        total += min(2 * step, timeout_ms)
        step *= 2
    return total / 1000


def measure_pickup(
    example: Example,
    tasks: ModuleType,
    probe: Probe,
    label: str,
    timeout_ms: int,
    samples: int,
    counts: Counts,
    processes: int | None = None,
) -> dict:
    """send -> done latency of an idle worker, and what the idle worker costs.

    The worker runs the Procfile's command with ``timeout_ms`` as its
    poll cap, and ``--processes`` when given (else one per CPU core).
    """
    redis = example.broker.name == "redis"
    extra = f"--processes {processes}" if processes else ""
    command = example.worker_command(defaults=True, extra=extra)
    env = (
        {}
        if timeout_ms == DEFAULT_WORKER_TIMEOUT
        else {TIMEOUT_VARIABLE: str(timeout_ms)}
    )
    processes = processes or os.cpu_count() or 1  # The CLI's default.
    # "Idle": long enough for the Redis consumer to reach its slowest poll.
    settle = ramp_seconds(timeout_ms) if redis else 0.05
    times = []
    with example.worker(command, f"pickup-{timeout_ms}", processes, env) as worker:
        if not probe.round_trip(tasks, f"ready-{timeout_ms}", 30):
            raise RuntimeError(f"the worker never answered:\n{worker.output()}")
        time.sleep(settle)
        # What staying idle costs: worker CPU, and broker calls on Redis.
        fetches: list[int] = []
        monitor = threading.Thread(
            target=redis_fetches,
            args=(example.broker.url, counts.idle_window, fetches),
        )
        cpu = process_group_cpu_seconds(worker.popen.pid)
        started = time.monotonic()
        if redis:
            monitor.start()
            monitor.join()
        else:
            time.sleep(counts.idle_window)
        cpu = process_group_cpu_seconds(worker.popen.pid) - cpu
        window = time.monotonic() - started
        stop = time.perf_counter() + (60 if redis and timeout_ms >= 1000 else 20)
        for i in range(samples):
            if time.perf_counter() > stop:
                break
            # A random pause: the message arrives at a random point of the
            # worker's idle poll cycle, as a real request would.
            time.sleep(settle + random.uniform(0, timeout_ms / 1000 if redis else 0.1))
            token = f"pickup-{timeout_ms}-{i}"
            started_send = time.time()
            tasks.noop.send(probe.port, token)
            done = probe.wait(token, timeout=10)
            if done is None:
                raise RuntimeError(f"{token} never came back:\n{worker.output()}")
            times.append(done - started_send)
    return {
        "settings": label,
        "worker_timeout_ms": timeout_ms,
        "processes": processes,
        **summary(times),
        "idle_broker_calls_per_s": round(fetches[0] / window, 1) if redis else 0,
        "idle_worker_cpu_percent": round(100 * cpu / window, 1),
    }
