"""The report actor, its broker and where it records its progress.

The worker and the app import it.
"""

# [docs:broker]
import os
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Interrupt

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

# What the broker and the progress store raise when Redis cannot be reached,
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
