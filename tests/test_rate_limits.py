"""docs/rate_limits.rst: calls to a provider capped across workers, and one
export of an account at a time, on each broker.

Two workers (the Procfile's command, twice: two hosts' worth) run what the
page's send.py queues against the page's stand-in provider, which refuses
the 11th call of any second of its clock with 429 and an overlapping export
of an account with 409. Its counts, read with the page's curl command, must
be what the page shows: every call made, none refused, no export overlapping.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from support.brokers import REDIS
from support.examples import Example, example_params, with_redis_and_empty_queues
from support.output import check_shown_output
from support.processes import Process, free_port, port_is_open, wait_for

QUEUE = "api"
LOOKUPS = 30
PROVIDER_PORT = "5001"  # the page's


@pytest.fixture(name="example", params=example_params("rate_limits"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    # Both variants keep the limiters' counts in Redis, the RabbitMQ one too.
    yield from with_redis_and_empty_queues(Example(request.param), queues=(QUEUE,))


def limits_redis_url(example: Example) -> str:
    """The Redis that holds the limiters' counts: the broker's, or REDIS_URL."""
    return example.broker.url if example.broker.name == "redis" else REDIS.url


def forget_counts(url: str) -> None:
    """Delete the limiters' keys a run before this one left."""
    client = redis.Redis.from_url(url, socket_timeout=2)
    for pattern in ("geocode-api@*", "export-*"):
        keys = list(client.scan_iter(pattern))
        if keys:
            client.delete(*keys)


def calls_per_second(provider_log: str) -> collections.Counter[str]:
    """GET /geocode answered 200, per second of the provider's own clock."""
    return collections.Counter(
        re.findall(r'\[([^]]+)\] "GET /geocode\?\S+ HTTP/1.1" 200', provider_log)
    )


def exports_overlapped_across_accounts(provider_log: str) -> bool:
    """True if two accounts' exports ran at once at some moment."""
    running: set[str] = set()
    # Not anchored to lines: the provider's prints (stdout) and Werkzeug's
    # request log (stderr) share its log file, and a request's line can
    # follow a print before its newline ("... started127.0.0.1 - - [...").
    for account, event in re.findall(
        r"export of account (\d+) (started|done)", provider_log
    ):
        if event == "started":
            running.add(account)
            if len(running) > 1:
                return True
        else:
            running.discard(account)
    return False


@pytest.mark.smoke
def test_two_workers_keep_to_the_limits(example: Example, tmp_path: Path) -> None:
    limits_url = limits_redis_url(example)
    forget_counts(limits_url)
    api_port = str(free_port())
    provider_command = example.procfile_command("provider")
    assert f"--port {PROVIDER_PORT}" in provider_command
    provider = Process(
        provider_command.replace(PROVIDER_PORT, api_port),
        cwd=example.path,
        env={},
        log=tmp_path / "provider.log",
    )
    env = {
        example.broker.url_variable: example.broker.url,
        "REDIS_URL": limits_url,
        "API_URL": f"http://127.0.0.1:{api_port}",
    }
    workers = [
        Process(
            example.procfile_command("worker"),
            cwd=example.path,
            env=env,
            log=tmp_path / f"worker-{number}.log",
        )
        for number in (1, 2)
    ]
    try:
        wait_for(lambda: port_is_open(int(api_port)), timeout=15, what="the provider")
        for worker in workers:
            worker.wait_for_output("is ready for action", timeout=20)
        [send] = example.commands("send")
        sent = subprocess.run(
            send.split(),
            cwd=example.path,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert sent == f"Queued {LOOKUPS} lookups and 6 exports.\n"

        [stats_command] = example.commands("stats")
        stats_command = stats_command.replace(PROVIDER_PORT, api_port)
        printed = ""

        def all_done() -> bool:
            nonlocal printed
            printed = subprocess.run(
                stats_command.split(),
                check=False,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout
            return f'"exports":6,"lookups":{LOOKUPS},' in printed

        # 30 lookups at 10 in 2 seconds take 4 to 5 seconds.
        wait_for(all_done, timeout=30, what="the provider to count every call")
        # Every call made, none refused with 429, no export overlapping.
        check_shown_output(example.path / "stats.txt", printed)
    finally:
        for process in (*workers, provider):
            process.kill_group()

    logs = "".join(worker.output() for worker in workers)
    # Each lookup done once, and no message retried by Dramatiq's Retries.
    done = re.findall(r"\] (\d+) Main Street, Springfield is at ", logs)
    assert sorted(map(int, done)) == list(range(1, LOOKUPS + 1))
    assert "Retrying message" not in logs and "Retries exceeded" not in logs
    # Limit hits do not use up retries: many lookups waited, some several
    # times, and Retries (which logs each retry, above) never saw one. Each
    # lookup came back as the same message, its id unchanged.
    waits = re.findall(r"Limit reached: geocode\('(\d+) [^)]*\), id (\S+),", logs)
    ids_by_lookup = collections.defaultdict(set)
    for lookup, message_id in waits:
        ids_by_lookup[lookup].add(message_id)
    assert len(ids_by_lookup) >= LOOKUPS // 2, ids_by_lookup
    assert all(len(ids) == 1 for ids in ids_by_lookup.values()), ids_by_lookup
    assert "is exporting" in logs
    # The mutex is per account: the two accounts' exports ran side by side.
    provider_log = provider.output()
    assert exports_overlapped_across_accounts(provider_log), provider_log
    per_second = calls_per_second(provider_log)
    assert sum(per_second.values()) == LOOKUPS
    assert max(per_second.values()) <= 10, per_second
