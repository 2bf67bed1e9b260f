"""Two actors that fill the queues. The worker and send.py import this module."""

# [docs:broker]
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
# [docs:broker:end]


# [docs:actors]
@dramatiq.actor(queue_name="jobs")
def crunch(seconds: float) -> None:
    """A job that keeps its worker thread busy for ``seconds``."""
    time.sleep(seconds)


@dramatiq.actor(queue_name="jobs", max_retries=0)
def always_fails() -> None:
    """A job that fails at once, and is not retried: a dead letter."""
    raise RuntimeError("This job always fails.")


# [docs:actors:end]
