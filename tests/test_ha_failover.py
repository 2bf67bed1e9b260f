"""Scale out, "Lose a broker node": the cluster, or Sentinel, carries on.

RabbitMQ: three nodes in a cluster, Dramatiq's queues declared as quorum
queues. Redis: a primary, its replica and three Sentinels. Two worker hosts
run imports while this machine posts 2,000 of them to the app, four at a
time. When 30 % are done, the host of the node that matters crashes (every
process on it dies): the RabbitMQ node that leads the queue, or the Redis
primary. Then every import the app accepted must be done once, but for
what Redis's asynchronous replication lost, which the test counts.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from urllib.parse import urlencode

import pytest

from support.figures import record
from support.processes import wait_for
from support.scale_out import CLUSTER, WEB, Hosts, machines_fixture

pytestmark = CLUSTER
IMPORTS = 2000
PER_SECOND = 40

fixture_machines = machines_fixture("ha", worker_hosts=2)


def rabbitmq_queues(machines: Hosts, node: str) -> list[list[str]]:
    output = machines.brokers[node].run_section(machines.folder, "queues")
    # After rabbitmqctl's two lines about what it does, a header and one
    # tab-separated line per queue; nothing when there is no queue.
    lines = output.splitlines()[2:]
    assert lines[:1] in ([], ["name\ttype\tleader\tmembers"]), output
    return [line.split("\t") for line in lines[1:]]


def primary(machines: Hosts, via: str) -> str:
    output = machines.brokers[via].run_section(
        machines.folder, "primary-now", machines.secrets
    )
    return output.split()[0]


def test_every_queue_lives_on_every_node(machines: Hosts) -> None:
    if machines.broker_name == "rabbitmq":
        # The workers declared the queue, its delay queue and its dead-letter
        # queue when they started.
        every_node = {"rabbit@rabbit-1", "rabbit@rabbit-2", "rabbit@rabbit-3"}
        wait_for(
            lambda: len(rabbitmq_queues(machines, "rabbit-2")) == 3,
            timeout=30,
            what="the workers to declare their queues",
        )
        queues = {
            name: (kind, set(members.strip("[]").split(", ")))
            for name, kind, _, members in rabbitmq_queues(machines, "rabbit-2")
        }
        expected = ("quorum", every_node)
        assert queues == dict.fromkeys(("ha", "ha.DQ", "ha.XQ"), expected)
    else:
        assert primary(machines, "redis-3") == machines.brokers["redis-1"].address
        # The three Sentinels know each other, so two of them can agree on a
        # failover: they find each other through the primary, every 2 s or so.
        checks: list[str] = []

        def quorum() -> bool:
            checks.append(
                machines.brokers["redis-3"]
                .run(
                    "redis-cli -h $NODE_ADDRESS -p 26379 sentinel ckquorum dramatiq",
                    env={
                        "REDISCLI_AUTH": machines.secrets["REDIS_PASSWORD"],
                        "NODE_ADDRESS": machines.brokers["redis-3"].address,
                    },
                )
                .stdout
            )
            return checks[-1].startswith("OK 3 usable Sentinels")

        wait_for(quorum, timeout=30, what="three Sentinels", interval=0.5)
        # And the replica follows the primary.
        wait_for(
            lambda: (
                "connected_slaves:1"
                in machines.brokers["redis-1"]
                .run(
                    "redis-cli -h $NODE_ADDRESS info replication",
                    env={
                        "REDISCLI_AUTH": machines.secrets["REDIS_PASSWORD"],
                        "NODE_ADDRESS": machines.brokers["redis-1"].address,
                    },
                )
                .stdout
            ),
            timeout=30,
            what="the replica to follow the primary",
            interval=0.5,
        )


class Client:
    """This machine posting imports to the app, 40 a second, four at a time.

    Slower than the two worker hosts import them (64 a second), so the
    posts go on for 50 s: through the crash, and after it.
    """

    def __init__(self, machines: Hosts) -> None:
        self.machines = machines
        self.accepted: set[str] = set()
        self.unavailable: list[float] = []  # When each 503 came back.
        self.slowest = 0.0
        self.thread = threading.Thread(target=self.post_all)
        self.thread.start()

    def post_all(self) -> None:
        self.start = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(self.post, range(IMPORTS)))

    def post(self, number: int) -> None:
        # Post number n at n / 40 s from the start: a steady load.
        time.sleep(max(0.0, self.start + number / PER_SECOND - time.monotonic()))
        data = urlencode({"url": self.machines.feeds.url(f"feed-{number}")}).encode()
        request = urllib.request.Request(f"http://{WEB}:8000/imports", data=data)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 202
                self.accepted.add(json.loads(response.read())["import_id"])
        except urllib.error.HTTPError as error:
            assert error.code == 503, error.read()
            self.unavailable.append(time.monotonic())
        self.slowest = max(self.slowest, time.monotonic() - started)


@pytest.mark.figure
def test_a_broker_node_crashes_in_the_middle_of_2000_imports(machines: Hosts) -> None:
    name = machines.broker_name
    client = Client(machines)
    wait_for(
        lambda: machines.done() >= IMPORTS * 0.3,
        timeout=120,
        what="30 % of the imports",
        interval=0.2,
    )
    if name == "rabbitmq":
        [[_, leader]] = [
            [queue, node]
            for queue, _, node, _ in rabbitmq_queues(machines, "rabbit-1")
            if queue == "ha"
        ]
        lost_node = leader.removeprefix("rabbit@")
    else:
        lost_node = "redis-1"
    cut = time.monotonic()
    [[cut_at]] = machines.query("SELECT extract(epoch FROM clock_timestamp())")
    machines.brokers[lost_node].close()
    client.thread.join(timeout=300)
    assert not client.thread.is_alive()

    # Every accepted import, unless the broker lost it, ends up done: wait
    # until it is, or until the count stops growing for 30 s (no import
    # here fails, so none waits for a retry).
    counts = [(time.monotonic(), machines.done())]

    def settled() -> bool:
        counts.append((time.monotonic(), machines.done()))
        if counts[-1][1] != counts[-2][1]:
            counts[:-1] = []
        return counts[-1][1] == len(client.accepted) or (
            counts[-1][0] - counts[0][0] > 30
        )

    wait_for(settled, timeout=400, what="the imports to end", interval=1)
    rows = machines.query(
        "SELECT import_id::text, extract(epoch FROM done_at) FROM imports"
    )
    done = {import_id for import_id, _ in rows}
    lost = client.accepted - done
    # A 503 after the message was sent, but not confirmed, may still run.
    ran_though_refused = done - client.accepted
    # The pause: the longest time after the crash when no import finished.
    finished = sorted(float(at) for _, at in rows if float(at) > float(cut_at))
    pause = max(b - a for a, b in pairwise([float(cut_at), *finished]))
    # The copies that found their import done, and wrote nothing.
    absorbed = sum(
        machines.log(host, "worker", whole=True).count("skipping this copy")
        for host, _ in machines.workers.values()
    )
    fetched = machines.feeds.times_fetched()
    twice = sum(1 for count in fetched.values() if count > 1)
    refused = [at - cut for at in client.unavailable]

    print(
        f"{name}: lost {lost_node}; {len(client.accepted)} accepted, "
        f"{len(refused)} answered 503 ({min(refused, default=0):.1f} to "
        f"{max(refused, default=0):.1f} s after the crash), slowest answer "
        f"{client.slowest:.1f} s; {len(lost)} accepted imports lost; "
        f"{twice} ran twice, {absorbed} copies skipped; no import finished for "
        f"{pause:.1f} s; {len(ran_though_refused)} answered 503 and ran"
    )
    assert len(client.accepted) + len(refused) == IMPORTS
    assert len(ran_though_refused) <= len(refused)
    # Every answer within the app's bounds: a few seconds, never the whole
    # failover.
    assert client.slowest < 10
    if name == "rabbitmq":
        # Two of three nodes stay up, a majority: nothing may be lost, and
        # the app may answer 503 only while they elect the queue's new
        # leader, which cannot confirm a message before.
        assert not lost
        assert all(0 <= after < 10 for after in refused), refused
    else:
        # No primary takes writes until the Sentinels promote the replica.
        assert all(0 <= after < 30 for after in refused), refused
    record("ha", f"{name}.accepted", len(client.accepted))
    record("ha", f"{name}.refused", len(refused))
    record("ha", f"{name}.lost", len(lost))
    record("ha", f"{name}.skipped_copies", absorbed)
    record("ha", f"{name}.pause", round(pause, 1))
    record("ha", f"{name}.slowest_answer", round(client.slowest, 1))
