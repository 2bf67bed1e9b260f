"""The feed-import actor and its broker, which counts and times every message."""

# [docs:broker]
import os
import urllib.request

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware.prometheus import Prometheus

client = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(client=client)
# In the worker only, which the Procfile gives a folder for its counts:
# count, time and track each message its processes run, and serve the counts
# of all of them from one more process. The app has nothing to count there.
if "dramatiq_prom_db" in os.environ:
    broker.add_middleware(Prometheus())
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

# [docs:actor]
# The retry budget: 3 retries, 15 s to 1 min apart, unless set otherwise.
MAX_RETRIES = int(os.environ.get("FEED_MAX_RETRIES", "3"))
MIN_BACKOFF_MS = int(os.environ.get("FEED_MIN_BACKOFF_MS", "15000"))
MAX_BACKOFF_MS = int(os.environ.get("FEED_MAX_BACKOFF_MS", "60000"))


@dramatiq.actor(
    queue_name="feeds",
    max_retries=MAX_RETRIES,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
def import_feed(url: str) -> None:
    """Fetch the feed at ``url``. A server that does not answer raises URLError."""
    with urllib.request.urlopen(url, timeout=5) as response:
        response.read()


# [docs:actor:end]
