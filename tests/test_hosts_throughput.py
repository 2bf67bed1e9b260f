"""Scale out, "Add a worker host": a second worker host doubles the throughput.

The imports wait on a slow feed server (0.5 s each), as imports from the
internet do: the work is waiting, not computing, so a second host with the
same command takes twice as many at a time. The same number of imports
runs on one worker host, then on two; the rate counts the imports done
between the 10th and the 90th percentile of their finishing times (in the
database's clock), leaving out the hosts' start and the last stragglers.
"""

from __future__ import annotations

import os

import pytest

from support.figures import record
from support.processes import wait_for
from support.scale_out import CLUSTER, WORKERS, Hosts, machines_fixture

pytestmark = CLUSTER
IMPORTS = 640
GOAL = 1.8

fixture_machines = machines_fixture("hosts")


def imports_per_second(machines: Hosts, worker_hosts: int) -> float:
    machines.query("TRUNCATE imports")
    machines.send(IMPORTS, f"run-on-{worker_hosts}-")
    for number in WORKERS[:worker_hosts]:
        machines.start_worker_host(number)
    wait_for(
        lambda: machines.done() == IMPORTS,
        timeout=IMPORTS / 10,
        what=f"{IMPORTS} imports on {worker_hosts} worker hosts",
        interval=0.5,
    )
    for number in WORKERS[:worker_hosts]:
        machines.stop_worker_host(number)
    finished = [
        float(at)
        for [at] in machines.query(
            "SELECT extract(epoch FROM done_at) FROM imports ORDER BY 1"
        )
    ]
    first, last = IMPORTS // 10, IMPORTS * 9 // 10
    return (last - first) / (finished[last] - finished[first])


@pytest.mark.figure
def test_a_second_worker_host_doubles_the_throughput(machines: Hosts) -> None:
    one = imports_per_second(machines, 1)
    two = imports_per_second(machines, 2)

    print(f"{machines.broker_name}: {one:.1f}/s on one host, {two:.1f}/s on two")
    # dramatiq starts one process per core: the page says how many.
    record("hosts", "cores", os.cpu_count() or 1)
    record("hosts", f"throughput.{machines.broker_name}.one", round(one, 1))
    record("hosts", f"throughput.{machines.broker_name}.two", round(two, 1))
    record("hosts", f"throughput.{machines.broker_name}.ratio", round(two / one, 2))
    assert two / one >= GOAL
