"""4. Throughput: messages/s of one worker that starts on a full queue."""

from __future__ import annotations

import os
import signal
import time
from types import ModuleType

from benchmark.example import Example, Probe
from benchmark.settings import IO_SECONDS, QUEUE, Counts


def measure_throughput(
    example: Example, tasks: ModuleType, probe: Probe, counts: Counts
) -> list[dict]:
    """Messages/s of one worker, for each --processes x --threads setting.

    The worker boots, answers a first message, and is then frozen (SIGSTOP)
    while the queue fills, so that all its processes start at once on a full
    queue when it resumes (SIGCONT).
    """
    # Fill the queue fast: on RabbitMQ without waiting for confirms.
    fill = tasks.broker
    if example.broker.name == "rabbitmq":
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        fill = RabbitmqBroker(url=example.broker.url)
    rows = []
    for processes, threads in counts.settings:
        extra = f"--processes {processes} --threads {threads}"
        command = example.worker_command(extra=extra)
        name = f"throughput-{processes}x{threads}"
        with example.worker(command, name, processes, {}) as worker:
            if not probe.round_trip(tasks, f"ready-{name}", 30):
                raise RuntimeError(f"the worker never answered:\n{worker.output()}")
            runs = [
                ("no-op", tasks.noop, (), min(counts.noop, 300 * processes * threads)),
                (
                    "I/O 20 ms",
                    tasks.wait_io,
                    (IO_SECONDS,),
                    counts.io_per_thread * processes * threads,
                ),
            ]
            for actor_label, actor, args, total in runs:
                os.killpg(worker.popen.pid, signal.SIGSTOP)
                try:
                    prefix = f"{name}-{actor.actor_name}-"
                    for i in range(total):
                        fill.enqueue(actor.message(probe.port, f"{prefix}{i}", *args))
                finally:
                    os.killpg(worker.popen.pid, signal.SIGCONT)
                done = []
                deadline = time.time() + 30
                while len(done) < total:
                    got = probe.receive(deadline)
                    if got is None:
                        break
                    if got[0].startswith(prefix):
                        done.append(got[1])
                rows.append(
                    {
                        "actor": actor_label,
                        "processes": processes,
                        "threads": threads,
                        "messages": total,
                        "received": len(done),
                        "messages_per_s": round(rate(done), 1),
                    }
                )
        example.broker.flush(QUEUE)
    if fill is not tasks.broker:
        fill.close()
    return rows


def rate(done: list[float]) -> float:
    """Messages/s between the 10th and the 90th percent of completions."""
    done = sorted(done)
    if len(done) < 10:
        return 0.0
    first, last = int(len(done) * 0.1), int(len(done) * 0.9)
    return (last - first) / (done[last] - done[first])
