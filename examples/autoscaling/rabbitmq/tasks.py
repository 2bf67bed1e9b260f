"""The feed-import actor. Every worker pod imports this module; so does the app."""

# [docs:broker]
import logging
import os
import urllib.request

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from database import connect
from health import Heartbeat
from publish_timeout import PublishTimeout

broker = RabbitmqBroker(
    # The broker host's private address, the app's user and its password
    # come from the environment (see "Point every host at the broker").
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
# Each worker process writes a heartbeat while it is alive and not stuck:
# the pod's liveness probe reads them.
broker.add_middleware(Heartbeat())
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

# [docs:actor]
logger = logging.getLogger(__name__)


# A pod that KEDA removes gets 25 s to finish its imports (worker.yaml). The
# time limit stops one at 20 s, and Dramatiq retries it later; one blocked in
# a network or database call stops at that call's 10 s timeout instead.
@dramatiq.actor(
    queue_name="autoscaling", max_retries=3, min_backoff=15_000, time_limit=20_000
)
def import_feed(import_id: str, url: str) -> None:
    # The slow part, outside any transaction. A server that refuses, or
    # waits over 10 s to connect or to send more, raises an OSError (URLError,
    # TimeoutError), and Dramatiq retries the message. Read 10 MB at most.
    with urllib.request.urlopen(url, timeout=10) as response:
        feed = response.read(10_000_000)

    # Any host may run any copy of this message: the record that the import
    # is done lives in the database they all share, not on this host's disk.
    with connect() as db, db.transaction():
        saved = db.execute(
            "INSERT INTO imports (import_id, url, size) VALUES (%s, %s, %s)"
            " ON CONFLICT (import_id) DO NOTHING",
            (import_id, url, len(feed)),
        ).rowcount
        if not saved:
            logger.info("Import %s was done before; skipping this copy.", import_id)
            return
        # Your import's rows go here, in the same transaction: they commit
        # with the record above, or not at all.
    logger.info("Import %s: %d bytes from %s.", import_id, len(feed), url)


# [docs:actor:end]
