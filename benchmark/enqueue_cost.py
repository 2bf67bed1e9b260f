"""2. Enqueue cost: send() vs a raw publish vs Celery's delay(), interleaved."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from benchmark.example import Example
from benchmark.settings import CELERY_QUEUE, QUEUE, RAW_QUEUE, Counts
from benchmark.stats import percentile, summary


@dataclass
class Method:
    """One way to publish a message, and the seconds each call took."""

    name: str
    confirms: bool | None  # None: Redis, where nothing is confirmed.
    call: Callable[[], object]
    # A call that returns its own timing (see in_new_thread), and runs only
    # Counts.new_thread times.
    timed_inside: bool = False
    times: list[float] = field(default_factory=list)


def celery_delay(url: str, confirms: bool) -> tuple[Callable[[], object], object]:
    """Celery's delay() of a no-op task on ``url``; and the Celery app."""
    from celery import Celery

    app = Celery("bench", broker=url, set_as_current=False)
    app.conf.task_default_queue = CELERY_QUEUE
    if confirms:
        app.conf.broker_transport_options = {"confirm_publish": True}

    @app.task(name="bench.noop")
    def noop(port: int, token: str) -> None:
        pass

    return lambda: noop.delay(0, "enqueue"), app


def in_new_thread(send: Callable[[], object]) -> Callable[[], float]:
    """Run ``send`` in a thread of its own, as `flask run` runs each request."""

    def call() -> float:
        took: list[float] = []

        def run() -> None:
            started = time.perf_counter()
            send()
            took.append(time.perf_counter() - started)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        return took[0]

    return call


def rabbitmq_methods(tasks: ModuleType, url: str) -> tuple[list[Method], Callable]:
    import dramatiq
    import pika
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    connection = pika.BlockingConnection(pika.URLParameters(url))
    plain = connection.channel()
    confirmed = connection.channel()
    confirmed.confirm_delivery()
    plain.queue_declare(RAW_QUEUE, durable=True)
    # The same body and properties as Dramatiq's own publish.
    body = tasks.noop.message(0, "enqueue").encode()
    persistent = pika.BasicProperties(delivery_mode=2)
    # Dramatiq's default: a broker without publisher confirms.
    unconfirmed = RabbitmqBroker(url=url)
    noop = dramatiq.actor(
        tasks.noop.fn, broker=unconfirmed, queue_name=QUEUE, actor_name="noop"
    )
    celery_plain, app_plain = celery_delay(url, confirms=False)
    celery_confirmed, app_confirmed = celery_delay(url, confirms=True)
    methods = [
        Method(
            "raw publish (pika)",
            True,
            lambda: confirmed.basic_publish(
                "", RAW_QUEUE, body, persistent, mandatory=True
            ),
        ),
        Method("Dramatiq send()", True, lambda: tasks.noop.send(0, "enqueue")),
        Method("Celery delay()", True, celery_confirmed),
        Method(
            "raw publish (pika)",
            False,
            lambda: plain.basic_publish("", RAW_QUEUE, body, persistent),
        ),
        Method("Dramatiq send()", False, lambda: noop.send(0, "enqueue")),
        Method("Celery delay()", False, celery_plain),
        Method(
            "Dramatiq send(), new thread per call",
            True,
            in_new_thread(lambda: tasks.noop.send(0, "enqueue")),
            timed_inside=True,
        ),
    ]

    def cleanup() -> None:
        plain.queue_delete(RAW_QUEUE)
        for app in (app_plain, app_confirmed):
            app.close()
        plain.queue_delete(CELERY_QUEUE)
        plain.exchange_delete(CELERY_QUEUE)
        connection.close()
        unconfirmed.close()

    return methods, cleanup


def redis_methods(tasks: ModuleType, url: str) -> tuple[list[Method], Callable]:
    import redis

    client = redis.Redis.from_url(url)
    body = tasks.noop.message(0, "enqueue").encode()
    celery_send, app = celery_delay(url, confirms=False)
    methods = [
        Method(
            "raw publish (redis-py LPUSH)",
            None,
            lambda: client.lpush(RAW_QUEUE, body),
        ),
        # Dramatiq's own Lua script, called directly: what Redis does for a
        # send (store the message, queue its id, beat the heart), minus Python.
        Method(
            "Dramatiq's enqueue script alone",
            None,
            lambda: tasks.broker.do_enqueue(RAW_QUEUE, uuid.uuid4().hex, body),
        ),
        Method("Dramatiq send()", None, lambda: tasks.noop.send(0, "enqueue")),
        Method("Celery delay()", None, celery_send),
        Method(
            "Dramatiq send(), new thread per call",
            None,
            in_new_thread(lambda: tasks.noop.send(0, "enqueue")),
            timed_inside=True,
        ),
    ]

    def cleanup() -> None:
        client.delete(
            RAW_QUEUE,
            f"dramatiq:{RAW_QUEUE}",
            f"dramatiq:{RAW_QUEUE}.msgs",
            CELERY_QUEUE,
            *client.scan_iter(f"_kombu.binding*.{CELERY_QUEUE}"),
        )
        app.close()
        client.close()

    return methods, cleanup


def measure_enqueue(example: Example, tasks: ModuleType, counts: Counts) -> list[dict]:
    build = rabbitmq_methods if example.broker.name == "rabbitmq" else redis_methods
    methods, cleanup = build(tasks, example.broker.url)
    shuffle = random.Random(42).shuffle
    try:
        for method in methods:  # Warm-up: connections, queue declarations.
            for _ in range(5):
                method.call()
        stop = time.perf_counter() + 20
        for _ in range(counts.enqueue_rounds):
            if time.perf_counter() > stop:
                break
            # Interleaved, in a new order each round: noise hits all alike.
            order = [
                m
                for m in methods
                if not m.timed_inside or len(m.times) < counts.new_thread
            ]
            shuffle(order)
            for method in order:
                started = time.perf_counter()
                took = method.call()
                elapsed = time.perf_counter() - started
                method.times.append(took if method.timed_inside else elapsed)
    finally:
        cleanup()
        example.broker.flush(QUEUE)
    raw = {m.confirms: m for m in methods if m.name.startswith("raw")}
    rows = []
    for method in methods:
        stats = summary(method.times, unit=1e6)
        baseline = percentile(raw[method.confirms].times, 50) * 1e6
        rows.append(
            {
                "method": method.name,
                "confirms": method.confirms,
                **stats,
                "ratio_to_raw": round(stats["p50"] / baseline, 2),
            }
        )
    return rows
