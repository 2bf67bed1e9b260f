"""The feed-import actor, its broker, and the checks of their health."""

# [docs:broker]
import os
import urllib.request

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from health import Heartbeat
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
# Each worker process writes a heartbeat while it is alive and not stuck.
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


def ping() -> None:
    """Open and close a connection to RabbitMQ, within 2 s, or raise BROKER_ERRORS."""
    try:
        pika.BlockingConnection(broker.parameters).close()
    except pika.exceptions.AMQPError as error:
        raise dramatiq.errors.ConnectionFailed(str(error)) from error


# [docs:broker:end]


# [docs:actor]
@dramatiq.actor(queue_name="feeds", max_retries=3)
def import_feed(url: str) -> None:
    """Fetch the feed at ``url``. A server that does not answer raises URLError."""
    with urllib.request.urlopen(url, timeout=5) as response:
        response.read()


# [docs:actor:end]
