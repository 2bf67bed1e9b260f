"""The periodic jobs' actors. The worker imports this module; so does the scheduler."""

# [docs:broker]
import logging
import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

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
