"""The periodic jobs' actors. The worker imports this module; so does the scheduler."""

# [docs:broker]
import logging
import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from database import connect

client = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(client=client)
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

# [docs:actors]
logger = logging.getLogger(__name__)


@dramatiq.actor(queue_name="periodic")
def make_report(tick: str) -> None:
    """The report of the day that ends at ``tick``, made once per tick."""
    with connect() as db, db.transaction():
        # A copy of the message (a redelivery, or a second send after a
        # scheduler crashed mid-claim) finds the row and stops here.
        made = db.execute(
            "INSERT INTO reports (tick) VALUES (%s) ON CONFLICT DO NOTHING", (tick,)
        ).rowcount
        if not made:
            logger.info("Report for %s: made before; skipping this copy.", tick)
            return
        # Your report's queries go here, in the same transaction, so the row
        # above commits only with the report.
    logger.info("Report for %s: made.", tick)


@dramatiq.actor(queue_name="periodic")
def forget_old_ticks(tick: str) -> None:
    """Delete the scheduler's records of ticks older than 30 days.

    Each job keeps its latest record: the scheduler reads it to catch up on
    a missed tick, however rare the job's ticks.
    """
    with connect() as db:
        deleted = db.execute(
            "DELETE FROM ticks AS old WHERE tick < %s::timestamptz - interval '30 days'"
            " AND tick < (SELECT max(tick) FROM ticks WHERE job = old.job)",
            (tick,),
        ).rowcount
    logger.info("Ticks before %s: deleted %d records over 30 days old.", tick, deleted)


# [docs:actors:end]
