"""The broker and its result store. Every module that declares actors imports it first."""

import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

client = redis.Redis.from_url(
    REDIS_URL,
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(client=client)
# Results stores what actors with store_results=True return, in Redis.
broker.add_middleware(Results(backend=RedisBackend(url=REDIS_URL)))
# Set the broker before any actor is declared: @dramatiq.actor binds each
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
