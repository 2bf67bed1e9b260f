"""The feed-import actor. Every worker host imports this module; so does the app."""

# [docs:broker]
import logging
import os
import urllib.request

import dramatiq
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.common import xq_name
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from database import connect
from publish_timeout import PublishTimeout


class QuorumRabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker, declaring quorum queues.

    Dramatiq 2 declares classic queues, which keep their messages on one
    node. A quorum queue keeps them on every node of the cluster, and
    confirms a message once most nodes have it. These two methods are
    Dramatiq's own, private ones: the tests check every queue's type with
    each new Dramatiq release.
    """

    def _build_queue_arguments(self, queue_name: str) -> dict:
        # The arguments of the queue and of its delay queue.
        arguments = super()._build_queue_arguments(queue_name)
        return {**arguments, "x-queue-type": "quorum"}

    def _declare_xq_queue(self, queue_name: str):
        # The dead-letter queue, with Dramatiq's own argument.
        return self.channel.queue_declare(
            queue=xq_name(queue_name),
            durable=True,
            arguments={"x-queue-type": "quorum", "x-message-ttl": DEAD_MESSAGE_TTL},
        )


# The class overrides two private methods: fail here, not with classic queues
# in production, if a Dramatiq release renames them.
for method in ("_build_queue_arguments", "_declare_xq_queue"):
    if not hasattr(RabbitmqBroker, method):
        raise RuntimeError(f"RabbitmqBroker has no {method}(): see tasks.py")

broker = QuorumRabbitmqBroker(
    # Every node of the cluster, separated by ";" (see "Point the app and
    # the workers at every node"): pika tries them in order, at every new
    # connection, so a node that is down costs one attempt.
    url=os.environ.get("RABBITMQ_URL", "amqp://127.0.0.1:5672"),
    # Wait for RabbitMQ to confirm each message, so .send() fails loudly
    # instead of losing a message the broker never stored.
    confirm_delivery=True,
)
# Bound every wait of .send() on a node that stops answering: 2 s to open a
# connection (pika's default: 15 s), for each node the URL lists, and 2 s
# for the confirm of each message (no limit by default).
nodes = broker.parameters
for node in nodes if isinstance(nodes, list) else [nodes]:
    node.stack_timeout = 2
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

# [docs:actor]
logger = logging.getLogger(__name__)


@dramatiq.actor(queue_name="ha", max_retries=3, min_backoff=15_000)
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
