"""The actors. The worker imports this module; so does the Flask app."""

# [docs:broker]
import os
import ssl

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

# The whole URL, password and TLS included, comes from the environment.
# Building the broker opens no connection: the first .send() does, in the
# process that sends.
broker = RabbitmqBroker(
    url=os.environ.get("RABBITMQ_URL", "amqp://127.0.0.1:5672"),
    # Wait for RabbitMQ to confirm each message, so .send() fails loudly
    # instead of losing a message the broker never stored.
    confirm_delivery=True,
)
dramatiq.set_broker(broker)

# What .send() raises when RabbitMQ cannot be reached. Dramatiq wraps only
# some of pika's errors. pika raises two kinds as they are: a new connection
# that gets no answer within its stack_timeout (15 s), and, with amqps://, a
# TLS error such as a certificate it cannot verify.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    dramatiq.errors.BrokerConnectionError,
    AMQPConnectorException,
    ssl.SSLError,
)
# [docs:broker:end]


@dramatiq.actor(queue_name="deployment")
def add(x: int, y: int) -> None:
    print(f"The sum of {x} and {y} is {x + y}.")
