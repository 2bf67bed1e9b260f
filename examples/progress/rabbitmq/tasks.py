"""The report actor, its broker and where it records its progress.

The worker and the app import it.
"""

# [docs:broker]
import os
import time

import dramatiq
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import CurrentMessage, Interrupt
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from publish_timeout import PublishTimeout

# The tasks' progress goes to Redis, next to RabbitMQ.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
broker = RabbitmqBroker(
    url=os.environ.get("RABBITMQ_URL", "amqp://127.0.0.1:5672"),
    # Wait for RabbitMQ to confirm each message, so .send() fails loudly
    # instead of losing a message the broker never stored.
    confirm_delivery=True,
)
# Bound every wait of .send() on a RabbitMQ that stops answering: 2 s to open
# a connection (pika's default: 15 s, set here over any in the URL) and 2 s
# for the confirm of each message (no limit by default).
broker.parameters.stack_timeout = 2
broker.add_middleware(PublishTimeout(seconds=2))

# What the broker (RabbitMQ) and the progress store (Redis) raise when they
# cannot be reached, or do not answer in time: pika's timeout for a new
# connection and redis-py's socket timeout (2 s below), which Dramatiq does not
# wrap. A full Redis refuses writes with OutOfMemoryError. OSError: this
# process has no file descriptor left for a new connection.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    dramatiq.errors.BrokerConnectionError,
    AMQPConnectorException,
    OSError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
)
# [docs:broker:end]

# [docs:progress]
# 2 s to connect and for each reply, as for the broker: a hung Redis gets
# the status view a 503 within seconds.
progress_redis = redis.Redis.from_url(
    REDIS_URL, socket_connect_timeout=2, socket_timeout=2, decode_responses=True
)
# The actor reads the id of the message it runs, to name its progress.
broker.add_middleware(CurrentMessage())
# Set the broker before declaring any actor: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)
# A task's progress is kept this long after its last change; the worker
# skips a message that waited longer, whose progress is gone.
PROGRESS_TTL_S = 60 * 60
# The states after which a task changes no more.
ENDED = ("done", "failed", "cancelled")


def progress_key(task_id: str) -> str:
    """The Redis hash of a task's progress: state, done, of, and result."""
    return f"progress:{task_id}"


def record(task_id: str, **fields: str | int) -> None:
    """Update a task's progress; it is kept for an hour after its last change."""
    with progress_redis.pipeline() as transaction:
        transaction.hset(progress_key(task_id), mapping={**fields, "at": now()})
        transaction.expire(progress_key(task_id), PROGRESS_TTL_S)
        transaction.execute()


def now() -> int:
    return int(time.time())


# [docs:progress:end]


# [docs:actor]
@dramatiq.actor(
    queue_name="progress",
    max_retries=0,
    max_age=PROGRESS_TTL_S * 1000,
    time_limit=10 * 60 * 1000,
)
def make_report(pages: int) -> None:
    task_id = CurrentMessage.get_current_message().message_id
    state, done = progress_redis.hmget(progress_key(task_id), "state", "done")
    if state in ENDED:
        return  # A copy of a message that already ran to its end.
    try:
        # A message delivered again, after its worker died, resumes where
        # the last one stopped: the bar never goes back.
        for page in range(int(done or 0), pages):
            # Stop between two pages when the app asked to: a queued task
            # stops before its first page.
            if progress_redis.hget(progress_key(task_id), "cancel"):
                record(task_id, state="cancelled")
                return
            record(task_id, state="running")
            time.sleep(0.2)  # Stands in for a page of real work.
            record(task_id, done=page + 1)
        record(task_id, state="done", result=f"A report of {pages} pages.")
    except (Exception, Interrupt):
        # An error, or the time limit: the page stops waiting, and the
        # worker logs what happened.
        record(task_id, state="failed")
        raise


# [docs:actor:end]
