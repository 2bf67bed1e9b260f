"""docs/autoscaling.rst: the numbers KEDA reads, and the pods it removes.

The broker host runs the page's commands (for RabbitMQ, its management API
and KEDA's user). Worker hosts run the pod's command of worker.yaml, each
with a folder of heartbeats of its own, as pods have. The two tests share
these hosts (RabbitMQ with its plugin takes 40 s to set up), in order:

- Remove pods without losing work: two pods run, and the pod's liveness
  probe passes on both. In the middle of imports that last 3 s each, one
  is stopped the way Kubernetes stops a pod that KEDA removes: SIGTERM to
  the container's main process (here, dramatiq's), and SIGKILL once the
  manifest's terminationGracePeriodSeconds have passed. The worker must
  exit by itself before that, having finished every import it had started
  and given back the ones it had only prefetched: each feed is fetched
  exactly once. With everything done, KEDA's triggers read 0 and ask for
  no pod; the last pod goes.
- Count what is left to do: imports wait in the queue, and a few more in
  the delay queue, while no pod runs; then one worker host runs the pod's
  command, as KEDA's first pod would. All along, the test reads each
  trigger of scaledobject.yaml as KEDA's scaler reads it
  (support/autoscaling.py), and the ready messages alone, which is what
  KEDA reads when left to its defaults (RabbitMQ over AMQP, or Redis with
  the queue's list). The triggers count every import not yet done, running
  ones included, so the pod is not removed under them, as it would be on
  the ready count; while only delayed imports are left, they ask for one
  pod, not none.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support.autoscaling import (
    desired_pods,
    keda_metric,
    keda_secret,
    scaled_object,
    worker_container,
    worker_deployment,
)
from support.hosts import Host
from support.processes import wait_for
from support.scale_out import BROKER, CLUSTER, Hosts, machines_fixture

pytestmark = CLUSTER

machines = machines_fixture("autoscaling", worker_hosts=2)

# Remove a pod.
REMOVED_IMPORTS = 32
REMOVED_SECONDS_EACH = 3.0

# Count what is left.
IMPORTS = 24  # Two pods' worth, at 16 messages each.
DELAYED = 4
DELAY_MS = 120_000  # Longer than the test: the delayed imports stay delayed.
SECONDS_EACH = 5.0  # The feed server's answer: long enough to watch a pod work.
# RabbitMQ's queues report their counts every 5 s (collect_statistics_interval)
# and the management API collects them as often: KEDA, and this test, may
# read counts 10 s old. Redis counts live.
LAG = {"rabbitmq": 11.0, "redis": 1.0}


def descendants(pid: int) -> Iterator[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in map(int, children):
        yield child
        yield from descendants(child)


def main_process(worker: subprocess.Popen) -> int:
    """The pid of ``dramatiq`` itself: a container's first process."""
    return next(
        pid
        for pid in descendants(worker.pid)
        if any(
            arg.endswith(b"/dramatiq")
            for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        )
    )


def test_a_pod_that_keda_removes_finishes_its_imports_first(machines: Hosts) -> None:
    grace = worker_deployment(machines.folder)["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    probe = shlex.join(
        worker_container(machines.folder)["livenessProbe"]["exec"]["command"]
    )
    for host, _ in machines.workers.values():

        def alive(host: Host = host) -> bool:
            env = machines.heartbeats(host)
            answer = host.run(probe, cwd=machines.folder, env=env, check=False)
            return answer.stdout == "Alive.\n"

        wait_for(alive, timeout=30, what=f"the liveness probe on {host.name}")

    machines.feeds.delay = REMOVED_SECONDS_EACH
    machines.send(REMOVED_IMPORTS, "scale-down-")
    removed, worker = machines.workers.pop(41)
    wait_for(
        lambda: sum(f.host == removed.address for f in machines.feeds.fetches) >= 8,
        timeout=20,
        what=f"worker41's threads to be busy:\n{machines.log(removed, 'worker')}",
    )
    started_here = sum(f.host == removed.address for f in machines.feeds.fetches)
    os.kill(main_process(worker), signal.SIGTERM)
    stopping = time.monotonic()
    try:
        exit_code = worker.wait(timeout=grace)
    except subprocess.TimeoutExpired:  # Kubernetes' SIGKILL.
        os.killpg(worker.pid, signal.SIGKILL)
        exit_code = worker.wait()
    took = time.monotonic() - stopping
    log = machines.log(removed, "worker", whole=True)
    removed.close()
    assert exit_code == 0, log
    assert took < grace, log

    wait_for(
        lambda: machines.done() == REMOVED_IMPORTS,
        timeout=REMOVED_IMPORTS * REMOVED_SECONDS_EACH / 8 + 30,
        what="the other pod to import the rest",
    )
    fetched = machines.feeds.times_fetched()
    assert len(fetched) == REMOVED_IMPORTS
    assert set(fetched.values()) == {1}, fetched.most_common(3)
    # Dramatiq's threads look for a stop every second: none starts an import
    # later than that.
    late = [
        f
        for f in machines.feeds.fetches
        if f.host == removed.address and f.at > stopping + 1.5
    ]
    assert not late, late
    # Everything done: KEDA's triggers read 0, and ask for no pod.
    scaled = scaled_object(machines.folder)
    secret = keda_secret(machines)
    readings: list[list[int]] = []

    def all_read_zero() -> bool:
        readings.append([keda_metric(t, secret) for t in scaled["spec"]["triggers"]])
        return not any(readings[-1])

    wait_for(all_read_zero, timeout=20, what="KEDA's triggers to read 0")
    assert desired_pods(scaled, readings[-1]) == 0
    machines.stop_worker_host(42)  # KEDA's last pod goes: the next test starts at 0.
    print(
        f"\n[{machines.broker_name}] SIGTERM with {started_here} imports running:"
        f" exit 0 after {took:.1f} s (grace {grace} s); all {REMOVED_IMPORTS} imported once"
    )


@dataclass
class Sample:
    at: float
    done: int  # imports in the database: done, or about to be acknowledged
    work: int  # the first trigger's number
    delayed: int  # the second trigger's
    ready: int  # the queue's ready messages alone


def ready_only(trigger: dict) -> dict:
    """The trigger as KEDA's defaults would read the queue: ready messages."""
    metadata = dict(trigger["metadata"])
    if trigger["type"] == "rabbitmq":
        metadata["excludeUnacknowledged"] = "true"
    else:
        metadata["listName"] = metadata["listName"].removesuffix(".msgs")
    return {**trigger, "metadata": metadata}


def page_counts(machines: Hosts) -> list[int]:
    """The page's commands on the broker host: the queue's messages not yet
    acknowledged, then the delay queue's, then the queue's ready ones."""
    output = machines.brokers["broker"].run_section(
        machines.folder, "metric", machines.secrets
    )
    if machines.broker_name == "redis":
        return [int(line) for line in output.split()]
    rows = {row.split()[0]: row.split()[1:] for row in output.splitlines() if row}
    ready, unacknowledged, messages = map(int, rows["autoscaling"])
    assert messages == ready + unacknowledged
    return [messages, int(rows["autoscaling.DQ"][2]), ready]


def test_the_triggers_count_queued_running_and_delayed_imports(
    machines: Hosts,
) -> None:
    scaled = scaled_object(machines.folder)
    work, delayed = scaled["spec"]["triggers"]
    secret = keda_secret(machines)
    total = IMPORTS + DELAYED
    machines.feeds.delay = SECONDS_EACH
    samples: list[Sample] = []

    def sample() -> Sample:
        done = machines.done() - baseline
        samples.append(
            Sample(
                time.monotonic(),
                done,
                keda_metric(work, secret),
                keda_metric(delayed, secret),
                keda_metric(ready_only(work), secret),
            )
        )
        return samples[-1]

    if machines.broker_name == "rabbitmq":
        # The management API listens on the private address only.
        listening = machines.brokers["broker"].run("ss -Hltn 'sport = :15672'")
        assert [line.split()[3] for line in listening.stdout.splitlines()] == [
            f"{BROKER}:15672"
        ]

    # No pod yet: everything waits.
    baseline = machines.done()  # The imports of the test before.
    machines.send(DELAYED, "delayed-", delay_ms=DELAY_MS)
    machines.send(IMPORTS, "now-")
    sent = time.monotonic()
    wait_for(
        lambda: (sample().work, samples[-1].delayed) == (IMPORTS, DELAYED),
        timeout=15,
        what=f"KEDA's numbers to show what was sent: {samples[-1:]}",
    )
    assert page_counts(machines) == [IMPORTS, DELAYED, IMPORTS]
    assert desired_pods(scaled, [samples[-1].work, samples[-1].delayed]) == 2

    # KEDA's first pod, until only the delayed imports are left.
    machines.start_worker_host(41)
    wait_for(
        lambda: (
            sample().done == IMPORTS
            and (samples[-1].work, samples[-1].delayed) == (0, DELAYED)
        ),
        timeout=IMPORTS / 8 * SECONDS_EACH + 40,
        what=f"the imports:\n{machines.log(machines.workers[41][0], 'worker')}",
    )
    fetched = machines.feeds.times_fetched()
    now = {path: times for path, times in fetched.items() if path.startswith("/now-")}
    assert len(now) == IMPORTS and set(now.values()) == {1}, now
    assert not any(path.startswith("/delayed-") for path in fetched)

    lag = LAG[machines.broker_name]
    for index, now in enumerate(samples):
        if now.at < sent + lag:
            continue  # Counts from before the imports were sent.
        # What is left now, and what was left a counting interval ago.
        earlier = [s.done for s in samples[:index] if s.at <= now.at - lag - 1]
        at_most = total - (earlier[-1] if earlier else 0)
        at_least = total - samples[min(index + 1, len(samples) - 1)].done
        assert at_least <= now.work + now.delayed <= at_most, (index, now)

    # Imports running, none ready: the ready count would remove the pod.
    running = [s for s in samples if s.ready == 0 and s.work > 0 and s.done < IMPORTS]
    assert running, samples
    on_ready = {"spec": {**scaled["spec"], "triggers": [ready_only(work)]}}
    assert all(desired_pods(on_ready, [s.ready]) == 0 for s in running)
    assert all(desired_pods(scaled, [s.work, s.delayed]) >= 1 for s in running)
    # Only delayed imports left: one pod, to run them when their time comes.
    waiting = [
        s for s in samples if s.done == IMPORTS and (s.work, s.delayed) == (0, DELAYED)
    ]
    assert waiting, samples
    assert all(desired_pods(scaled, [s.work, s.delayed]) == 1 for s in waiting)
    # The ready count would read 0 there, and keep no pod to run them.
    assert all(desired_pods(on_ready, [s.ready]) == 0 for s in waiting)
    print(
        f"\n[{machines.broker_name}] {len(running)} samples read 0 ready while"
        f" imports ran (the first: trigger {running[0].work}, {IMPORTS - running[0].done}"
        f" not done): 1 pod, not 0; {len(waiting)} read only the {DELAYED} delayed: 1 pod"
    )
