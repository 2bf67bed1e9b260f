"""The feed-import actor, its broker, and the checks of their health."""

# [docs:broker]
import os
import urllib.request

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from health import Heartbeat

client = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(client=client)
# Each worker process writes a heartbeat while it is alive and not stuck.
broker.add_middleware(Heartbeat())
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


def ping() -> None:
    """Ask Redis for an answer, within 2 s, or raise BROKER_ERRORS."""
    client.ping()


# [docs:broker:end]


# [docs:actor]
@dramatiq.actor(queue_name="feeds", max_retries=3)
def import_feed(url: str) -> None:
    """Fetch the feed at ``url``. A server that does not answer raises URLError."""
    with urllib.request.urlopen(url, timeout=5) as response:
        response.read()


# [docs:actor:end]
