"""docs/autoscaling.rst, 'Remove pods without losing work': a scale-down.

Two worker hosts run the pod's command of worker.yaml, each with a folder
of heartbeats of its own, as pods have; the pod's liveness probe passes on
both. Then, in
the middle of imports that last 3 s each, one of them is stopped the way
Kubernetes stops a pod that KEDA removes: SIGTERM to the container's main
process (here, dramatiq's), and SIGKILL once the manifest's
terminationGracePeriodSeconds have passed. The worker must exit by itself
before that, having finished every import it had started and given back
the ones it had only prefetched: each feed is fetched exactly once. Then,
with everything done, KEDA's triggers read 0 and ask for no pod.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from support.autoscaling import (
    desired_pods,
    keda_metric,
    keda_secret,
    scaled_object,
    triggers,
    worker_container,
    worker_deployment,
)
from support.hosts import Host
from support.processes import wait_for
from support.scale_out import CLUSTER, Hosts, machines_fixture

pytestmark = CLUSTER

machines = machines_fixture("autoscaling", worker_hosts=2)

IMPORTS = 48
SECONDS_EACH = 3.0


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

    machines.feeds.delay = SECONDS_EACH
    machines.send(IMPORTS, "scale-down-")
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
        lambda: machines.done() == IMPORTS,
        timeout=IMPORTS * SECONDS_EACH / 8 + 30,
        what="the other pod to import the rest",
    )
    fetched = machines.feeds.times_fetched()
    assert len(fetched) == IMPORTS
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
    wait_for(
        lambda: (
            not any(
                readings.append(
                    [keda_metric(t, secret) for t in triggers(machines.folder)]
                )
                or readings[-1]
            )
        ),
        timeout=20,
        what=f"KEDA's triggers to read 0: {readings[-1:]}",
    )
    assert desired_pods(scaled, readings[-1]) == 0
    print(
        f"\n[{machines.broker_name}] SIGTERM with {started_here} imports running:"
        f" exit 0 after {took:.1f} s (grace {grace} s); all {IMPORTS} imported once"
    )
