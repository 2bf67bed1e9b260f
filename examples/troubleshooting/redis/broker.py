"""The broker and its result store. Every module that declares actors imports it first."""

import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

broker = RedisBroker(url=REDIS_URL)
# Results stores what actors with store_results=True return, in Redis.
broker.add_middleware(Results(backend=RedisBackend(url=REDIS_URL)))
# Set the broker before any actor is declared: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)

# What .send() raises when Redis cannot be reached, does not answer within
# redis-py's socket timeout (5 s), or is full and refuses writes: redis-py's
# own errors, not Dramatiq's.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
)
