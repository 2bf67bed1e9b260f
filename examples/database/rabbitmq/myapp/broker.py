"""The broker, built once at import time. Every other module imports it from here."""

import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from myapp.publish_timeout import PublishTimeout

# The URL comes from the environment, not from app.config: this module runs
# at import time, before any app exists. Building the broker does not
# connect; the first .send() or the worker does.
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
# The dramatiq command runs the global broker after it imports the worker
# module, so make this broker the global one.
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
