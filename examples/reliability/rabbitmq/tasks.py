"""The import actor. The worker imports this module; so does the Flask app."""

# [docs:broker]
import logging
import os
from pathlib import Path

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

import imports_db
from database import connect
from publish_timeout import PublishTimeout

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
# Set the broker before declaring any actor: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)

# What .send() raises when RabbitMQ cannot be reached or does not answer in
# time. Dramatiq wraps only some of pika's errors: pika raises a new
# connection's timeout as it is, and OSError when this process has no file
# descriptor left for a new connection.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    dramatiq.errors.BrokerConnectionError,
    AMQPConnectorException,
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
