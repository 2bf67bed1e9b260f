"""The import actor. The worker imports this module; so does the Flask app."""

# [docs:broker]
import logging
import os
from pathlib import Path

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

import imports_db
from database import connect

client = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(
    client=client,
    # Give the messages of a crashed worker back within seconds, not minutes:
    # call a worker dead after 10 s without a heartbeat (default 60 s), and
    # look for dead workers on every broker call (default: 1 call in 1,000).
    heartbeat_timeout=10_000,
    maintenance_chance=1_000_000,
)
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

# [docs:settings]
# Where the app stores uploaded files until the worker imports them.
UPLOADS_DIR = Path(os.environ.get("UPLOADS_DIR", "uploads"))

# The retry budget: 5 retries, 10 s to 5 min apart. An import that still
# fails after 5 to 10 minutes goes to the dead-letter queue.
MAX_RETRIES = int(os.environ.get("IMPORT_MAX_RETRIES", "5"))
MIN_BACKOFF_MS = int(os.environ.get("IMPORT_MIN_BACKOFF_MS", "10000"))
MAX_BACKOFF_MS = int(os.environ.get("IMPORT_MAX_BACKOFF_MS", "300000"))

logger = logging.getLogger(__name__)
# [docs:settings:end]


@dramatiq.actor(
    queue_name="reliability",
    max_retries=MAX_RETRIES,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
def import_file(import_id: str, name: str) -> None:
    # A new connection per task, closed at the end of the block. A database
    # that is down or too slow raises psycopg.OperationalError: Dramatiq
    # retries the message, as for any other error.
    with connect() as db:
        # Every copy of the message carries the same import id: skip the copies
        # of a finished import, without reading its file again.
        if imports_db.is_done(db, import_id):
            logger.info("Import %s was done before; skipping this copy.", import_id)
            return

        logger.info("Import %s: importing %s.", import_id, name)
        # A missing file raises FileNotFoundError: Dramatiq retries the message,
        # and moves it to the dead-letter queue once the retry budget is spent.
        # Read the file first: a slow read must not hold the transaction open.
        with open(UPLOADS_DIR / name, encoding="utf-8") as upload:
            lines = upload.readlines()

        # One transaction: the block commits the done mark and the rows
        # together, or rolls both back on an error. Two copies that got this
        # far at the same time take turns at mark_done(), and the second one
        # writes nothing.
        with db.transaction():
            if not imports_db.mark_done(db, import_id):
                logger.info("Import %s was done before; skipping this copy.", import_id)
                return
            rows = imports_db.save_rows(db, import_id, lines)

    logger.info("Import %s: imported %d rows from %s.", import_id, rows, name)
