"""The actor, its broker and its result store. The worker and the app import it."""

# [docs:broker]
import os

import dramatiq
import redis
from dramatiq import Message
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

# What the broker and the result store raise when Redis cannot be reached,
# does not answer in time, or is full and refuses writes: redis-py's own
# errors, not Dramatiq's. OSError: this process has no file descriptor left
# for a new connection.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    OSError,
)
# [docs:broker:end]


def record_key(message_id: str) -> str:
    """The Redis key of the app's record of a message id."""
    return f"task:{message_id}"


class TaskRecordBackend(RedisBackend):
    """A RedisBackend that makes each task's record expire with its result.

    Each method shortens the record before it stores the result, so whoever
    can read a result finds a record that already expires with it.
    """

    def store_result(self, message: Message, result: object, ttl: int) -> None:
        self.client.pexpire(record_key(message.message_id), ttl)
        super().store_result(message, result, ttl)

    def store_exception(self, message: Message, exception: Exception, ttl: int) -> None:
        self.client.pexpire(record_key(message.message_id), ttl)
        super().store_exception(message, exception, ttl)


# [docs:results]
# How long Redis keeps a result after its task ends: Dramatiq's default.
RESULT_TTL_MS = 10 * 60 * 1000

# 2 s to connect and for each reply, as for the broker: a hung Redis gets
# the status view a 503 within seconds, not a request that waits.
results_redis = redis.Redis.from_url(
    REDIS_URL, socket_connect_timeout=2, socket_timeout=2
)
result_backend = TaskRecordBackend(client=results_redis)
# Add Results before declaring the actor: it is what makes store_results
# and result_ttl valid actor options.
broker.add_middleware(Results(backend=result_backend, result_ttl=RESULT_TTL_MS))
# Set the broker before declaring any actor: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)
# [docs:results:end]

# [docs:limits]
# The worker skips a message that waited this long in the queue, and stops a
# task that runs this long. Together they bound how long a task stays pending.
MAX_AGE_MS = 60 * 60 * 1000
TIME_LIMIT_MS = 10 * 60 * 1000  # Dramatiq's default.
# [docs:limits:end]


@dramatiq.actor(
    queue_name="results",
    store_results=True,
    max_retries=0,
    max_age=MAX_AGE_MS,
    time_limit=TIME_LIMIT_MS,
)
def divide(x: int, y: int) -> float:
    # No retries: a division that failed fails again. With the default 20,
    # the failure would be stored only after the last retry, weeks from now.
    return x / y
