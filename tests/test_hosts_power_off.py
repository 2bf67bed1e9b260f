"""Scale out, "Lose a worker host": no import is lost when a host loses power.

Two worker hosts import 2,000 feeds that the app queued. When 30 % are
done, one host goes the way a host that loses power goes: its link drops
first, so not even its kernel says goodbye, then every process on it dies.
The broker notices only when the host's heartbeats stop (RabbitMQ's
connection heartbeat, the Redis broker's worker heartbeat), and gives its
messages to the other host. Every import must then be in the database once,
and every import the lost host had started must run again on the other one.
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

import pytest

from support.figures import record
from support.processes import wait_for
from support.scale_out import CLUSTER, WEB, WORKERS, Hosts, machines_fixture

pytestmark = CLUSTER
IMPORTS = 2000

fixture_machines = machines_fixture("hosts")


def post_import(url: str) -> str:
    """POST /imports on the web host, as the page's curl does; the import id."""
    request = urllib.request.Request(
        f"http://{WEB}:8000/imports", data=urlencode({"url": url}).encode()
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return json.loads(response.read())["import_id"]


@pytest.mark.figure
def test_a_worker_host_that_loses_power_loses_no_import(machines: Hosts) -> None:
    survivor, lost = (machines.start_worker_host(number) for number in WORKERS)
    with ThreadPoolExecutor(8) as pool:
        urls = [machines.feeds.url(f"feed-{n}") for n in range(IMPORTS)]
        import_ids = set(pool.map(post_import, urls))
    wait_for(
        lambda: machines.done() >= IMPORTS * 0.3,
        timeout=120,
        what="30 % of the imports",
        interval=0.2,
    )

    machines.power_off(WORKERS[1])
    # From here on, nothing of the lost host's can reach the network: its
    # link went down before its processes died.
    cut = time.monotonic()
    done_before = {
        urlsplit(url).path for [url] in machines.query("SELECT url FROM imports")
    }
    started_there = {
        fetch.path for fetch in machines.feeds.fetches if fetch.host == lost.address
    }
    in_flight = started_there - done_before
    wait_for(
        lambda: machines.done() == IMPORTS,
        timeout=300,
        what=f"every import to be done:\n{machines.log(survivor, 'worker')}",
        interval=0.5,
    )
    all_done = time.monotonic() - cut

    # Zero lost: the database holds every import the app answered 202 for,
    # each once (its primary key), and nothing else.
    rows = machines.query("SELECT import_id::text FROM imports")
    assert len(rows) == IMPORTS
    assert {import_id for [import_id] in rows} == import_ids
    # Every import the lost host had started ran again, on the other host.
    assert in_flight, "the lost host was running nothing: cut it later"
    ran_again = {}
    for fetch in machines.feeds.fetches:
        if fetch.path in in_flight and fetch.at > cut:
            assert fetch.host == survivor.address
            ran_again.setdefault(fetch.path, fetch.at - cut)
    assert set(ran_again) == in_flight
    fetched = machines.feeds.times_fetched()
    twice = sum(1 for count in fetched.values() if count > 1)
    # Those the lost host finished but could not acknowledge ran again too:
    # the record made the second run write nothing, and say so.
    skipped = machines.log(survivor, "worker", whole=True).count("skipping this copy")
    assert twice == len(in_flight) + skipped
    # Where the messages went back: RabbitMQ near the head of the queue, so
    # they ran before the imports still waiting; Dramatiq's Redis broker at
    # the back, so they ran among the last: only what the other host had
    # already taken from Redis (its prefetch, 2 per thread) started later.
    first_fetch = {}
    for fetch in machines.feeds.fetches:
        first_fetch.setdefault(fetch.path, fetch.at - cut)
    others = [at for path, at in first_fetch.items() if path not in started_there]
    others_started = max(others)
    if machines.broker_name == "redis":
        prefetched = 2 * 16
        assert sum(at > min(ran_again.values()) for at in others) <= prefetched
    else:
        assert max(ran_again.values()) < others_started

    name = machines.broker_name
    print(
        f"{name}: {len(in_flight)} imports running on the lost host ran again "
        f"{min(ran_again.values()):.1f} to {max(ran_again.values()):.1f} s after "
        f"the cut, the last other import started {others_started:.1f} s after; "
        f"{twice} imports ran twice, {skipped} copies skipped; "
        f"all {IMPORTS} done {all_done:.1f} s after the cut"
    )
    record("hosts", f"power_off.{name}.lost", IMPORTS - len(rows))
    record("hosts", f"power_off.{name}.in_flight", len(in_flight))
    record("hosts", f"power_off.{name}.skipped_copies", skipped)
    record("hosts", f"power_off.{name}.last_rerun", round(max(ran_again.values())))
    record("hosts", f"power_off.{name}.all_done", round(all_done))
