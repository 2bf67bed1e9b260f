"""The broker, built once at import time. Every other module imports it from here."""

import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

# The URL comes from the environment, not from app.config: this module runs
# at import time, before any app exists. Building the broker does not
# connect; the first .send() or the worker does.
broker = RedisBroker(
    url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
)
# The dramatiq command runs the global broker after it imports the worker
# module, so make this broker the global one.
dramatiq.set_broker(broker)

# What .send() raises when Redis cannot be reached, does not answer within
# redis-py's socket timeout (5 s), or is full and refuses writes: redis-py's
# own errors, not Dramatiq's.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
)
