"""The actors. The worker imports this module; so does the Flask app."""

# [docs:broker]
import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

# The whole URL, password and TLS included, comes from the environment.
# Building the broker opens no connection: the first .send() does, in the
# process that sends.
broker = RedisBroker(
    url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
)
dramatiq.set_broker(broker)

# What .send() raises when Redis cannot be reached, does not answer within
# redis-py's socket timeout (5 s), or is full and refuses writes: redis-py's
# own errors, not Dramatiq's.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
)
# [docs:broker:end]


@dramatiq.actor(queue_name="deployment")
def add(x: int, y: int) -> None:
    print(f"The sum of {x} and {y} is {x + y}.")
