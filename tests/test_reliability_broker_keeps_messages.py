"""docs/reliability.rst, 'Start the broker so that it keeps its messages'.

A restart keeps the queued messages: RabbitMQ's always, Redis's with the
append-only file only. A full broker refuses new messages, and the view
answers 503. The tests stop and start the broker on this machine.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.broker_control import Control, persistence, run_admin
from support.brokers import Broker
from support.examples import (
    BROKER_UNAVAILABLE,
    Example,
    example_params,
    with_empty_queues,
)
from support.figures import record
from support.processes import port_is_open, wait_for
from support.reliability import (
    QUEUE,
    Client,
    Folder,
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
    forget_redis_acks,
    start,
    watch,
)

pytestmark = pytest.mark.reliability


# The example's Redis only: the test changes how Redis persists its data.
@pytest.fixture(params=[p for p in example_params("reliability") if p.id == "redis"])
def redis_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))
    forget_redis_acks(Example(request.param).broker)


def test_queued_messages_survive_a_broker_restart(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = Control(example.broker)
    folder = Folder(tmp_path, database)
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    keys = [f"kept-{n}-{uuid.uuid4().hex[:8]}" for n in range(100)]
    with persistence(example, control) as settings:
        import_file = example.load("tasks", monkeypatch).import_file
        for key in keys:
            import_file.send(key, "orders.csv")
        with control.down():
            control.start(**settings)
        kept = example.broker.pending(QUEUE)
        record("reliability", f"messages_kept.{example.broker.name}", kept)
        print(
            f"\n[{example.broker.label}] restart with 100 queued messages"
            f"{''.join(f' ({k} {v})' for k, v in settings.items())}: {kept} kept"
        )
        assert kept == 100

        worker = start(example, "worker", folder, "worker")
        try:
            watch(
                [worker],
                lambda: folder.done() == set(keys),
                timeout=60,
                what="the 100 queued imports",
            )
        finally:
            worker.kill_group()


def test_redis_crash_without_appendonly_loses_the_messages_since_its_last_snapshot(
    redis_example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = Control(redis_example.broker)
    import_file = redis_example.load("tasks", monkeypatch).import_file
    for n in range(100):
        import_file.send(f"lost-{n}", "orders.csv")
    assert redis_example.broker.pending(QUEUE) == 100
    # No snapshot since the messages were queued, and no append-only file:
    # SHUTDOWN NOSAVE then loses what a crash loses.
    no_persistence = {"appendonly": "no", "save": ""}
    try:
        with control.down():
            control.start(**no_persistence)
        kept = redis_example.broker.pending(QUEUE)
    finally:
        if any(control.redis_config[k] != v for k, v in no_persistence.items()):
            # Start again as found, so Redis has its own persistence back.
            control.stop()
            control.start()

    record("reliability", "messages_kept.redis_without_appendonly", kept)
    print(
        "\n[Redis] crash with 100 queued messages, no snapshot since, "
        f"appendonly no: {kept} kept"
    )
    assert kept == 0


@contextmanager
def full(broker: Broker) -> Iterator[None]:
    """Fill the broker up, as far as publishers can tell.

    RabbitMQ: raise its free-disk alarm, which blocks every publisher. Redis:
    a maxmemory below what it uses, so with noeviction it refuses writes.
    """
    if broker.name == "rabbitmq":
        query = "rabbit_disk_monitor:get_disk_free_limit()."
        limit = run_admin("rabbitmqctl", "eval", query).strip()
        run_admin("rabbitmqctl", "set_disk_free_limit", "1000000GB")
        try:
            yield
        finally:
            run_admin("rabbitmqctl", "set_disk_free_limit", limit)
            wait_for(
                lambda: (
                    "alarm"
                    not in run_admin(
                        "rabbitmqctl", "eval", "rabbit_alarm:get_alarms()."
                    )
                ),
                timeout=30,
                what="the disk alarm to clear",
            )
        return
    import redis

    client = redis.Redis.from_url(broker.url)
    saved = client.config_get("maxmemory", "maxmemory-policy")
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", 1)
    try:
        yield
    finally:
        client.config_set("maxmemory", saved["maxmemory"])
        client.config_set("maxmemory-policy", saved["maxmemory-policy"])


def test_a_full_broker_answers_503_then_recovers(
    example: Example, tmp_path: Path, database: str
) -> None:
    """The Configure page: RabbitMQ blocks publishers, Redis refuses writes.

    On RabbitMQ, the URL's blocked_connection_timeout bounds the wait: without
    it, pika waits for the alarm to clear with no time limit, and so does the
    request.
    """
    url = example.broker.url
    if example.broker.name == "rabbitmq":
        url += "?blocked_connection_timeout=1"
    folder = Folder(tmp_path, database, env={example.broker.url_variable: url})
    web = start(example, "web", folder, "web")
    port = int(folder.env["PORT"])
    client = Client(port)
    try:
        watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
        with full(example.broker):
            refused = client.post(f"full-{uuid.uuid4().hex}", "orders.csv")
        after = client.post(f"after-{uuid.uuid4().hex}", "orders.csv")
    finally:
        client.close()
        web.kill_group()

    stored = example.broker.pending(QUEUE) - 1  # Copies of the refused request.
    print(
        f"\n[{example.broker.label}] full broker: {refused.status} after "
        f"{refused.seconds:.1f} s, {stored} copies stored once it had room; "
        f"then {after.status}"
    )
    assert (refused.status, json.loads(refused.body)) == (503, BROKER_UNAVAILABLE)
    assert after.status == 202
    if example.broker.name == "rabbitmq":
        # Dramatiq tries the send 6 times, each blocked for 1 s. RabbitMQ had
        # read each blocked message, and stores it once the alarm clears.
        assert 5 < refused.seconds < 15
        assert "Blocked connection timeout" in web.output()
        # A 503 does not mean that nothing was queued.
        assert 1 <= stored <= 6
    else:
        assert refused.seconds < 1
        assert "maxmemory" in web.output()
        assert stored == 0
