"""docs/autoscaling.rst, 'Count what is left to do': the numbers KEDA reads.

The broker host runs the page's commands (for RabbitMQ, its management API
and KEDA's user). Imports wait in the queue, and a few more in the delay
queue, while no worker runs (no pod); then one worker host runs the pod's
command, as KEDA's first pod would. All along, the test reads each trigger
of scaledobject.yaml as KEDA's scaler reads it (support/autoscaling.py),
and the ready messages alone, which is what KEDA reads when left to its
defaults (RabbitMQ over AMQP, or Redis with the queue's list).

What the page promises: the triggers count every import not yet done,
running ones included, so the pod is not removed under them, as it would
be on the ready count; while only delayed imports are left, they ask for
one pod, not none. (test_autoscaling_scale_down.py checks that they ask
for none once everything is done.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from support.autoscaling import (
    desired_pods,
    keda_metric,
    keda_secret,
    scaled_object,
    triggers,
)
from support.processes import wait_for
from support.scale_out import BROKER, CLUSTER, Hosts, machines_fixture

pytestmark = CLUSTER

machines = machines_fixture("autoscaling")

IMPORTS = 32  # Two pods' worth: 16 messages each.
DELAYED = 4
DELAY_MS = 120_000  # Longer than the test: the delayed imports stay delayed.
SECONDS_EACH = 5.0  # The feed server's answer: long enough to watch a pod work.
# RabbitMQ's queues report their counts every 5 s (collect_statistics_interval)
# and the management API collects them as often: KEDA, and this test, may
# read counts 10 s old. Redis counts live.
LAG = {"rabbitmq": 11.0, "redis": 1.0}


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
    work, delayed = triggers(machines.folder)
    secret = keda_secret(machines)
    total = IMPORTS + DELAYED
    machines.feeds.delay = SECONDS_EACH
    samples: list[Sample] = []

    def sample() -> Sample:
        done = machines.done()
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
    assert len(fetched) == IMPORTS and set(fetched.values()) == {1}, fetched
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
