"""The actors. The worker imports this module; so do the Flask app and the tests."""

# [docs:broker]
import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

broker: dramatiq.Broker
if os.environ.get("UNIT_TESTS") == "1":
    # Your unit tests set UNIT_TESTS=1 (see tests/conftest.py): messages stay
    # in this process, and no broker needs to run.
    broker = StubBroker()
else:
    broker = RedisBroker(
        url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
# Set the broker before declaring any actor: @dramatiq.actor binds each
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
# [docs:broker:end]


@dramatiq.actor(queue_name="testing")
def add(x: int, y: int) -> None:
    print(f"The sum of {x} and {y} is {x + y}.")
