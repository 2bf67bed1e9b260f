"""The actors. The worker imports this module; so does the Flask app."""

# [docs:broker]
import os
import ssl

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from publish_timeout import PublishTimeout

# The whole URL, password and TLS included, comes from the environment.
# Building the broker opens no connection: the first .send() does, in the
# process that sends.
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
dramatiq.set_broker(broker)

# What .send() raises when RabbitMQ cannot be reached or does not answer in
# time. Dramatiq wraps only some of pika's errors. pika raises three kinds as
# they are: a new connection's timeout; with amqps://, a TLS error such as a
# certificate it cannot verify; and OSError when this process has no file
# descriptor left for a new connection. (ssl.SSLError is an OSError too.)
BROKER_ERRORS: tuple[type[Exception], ...] = (
    dramatiq.errors.BrokerConnectionError,
    AMQPConnectorException,
    ssl.SSLError,
    OSError,
)
# [docs:broker:end]


@dramatiq.actor(queue_name="deployment")
def add(x: int, y: int) -> None:
    print(f"The sum of {x} and {y} is {x + y}.")
