"""Two actors on two queues: quick notifications and slow, CPU-heavy reports."""

import os
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

client = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(client=client)
# Set the broker before declaring any actor: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)

# What .send() raises when Redis cannot be reached, does not answer in time,
# or is full and refuses writes: redis-py's own errors, not Dramatiq's. And
# OSError when this process has no file descriptor left for a connection.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    OSError,
)


@dramatiq.actor(queue_name="tuning")
def notify(text: str) -> None:
    # A real app would call an e-mail or chat API here: I/O-bound work.
    print(f"Notified: {text}")


@dramatiq.actor(
    queue_name="tuning-slow",
    # No report takes a minute: one that does is stuck, so stop it.
    time_limit=60_000,
    # Run a stopped report once more, 1 to 2 s later, then dead-letter it.
    max_retries=1,
    min_backoff=1_000,
)
def build_report(seconds: float) -> None:
    print(f"Building a {seconds:g} s report...")
    # A stand-in for number crunching: it keeps one CPU core busy.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    print(f"Built the {seconds:g} s report.")
    # Hand the quick follow-up to the fast queue.
    notify.send(f"Your {seconds:g} s report is ready.")
