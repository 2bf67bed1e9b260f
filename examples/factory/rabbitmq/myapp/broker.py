"""The broker, built once at import time. Every other module imports it from here."""

import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

# The URL comes from the environment, not from app.config: this module runs
# at import time, before any app exists. Building the broker does not
# connect; the first .send() or the worker does.
broker = RabbitmqBroker(
    url=os.environ.get("RABBITMQ_URL", "amqp://127.0.0.1:5672"),
    # Wait for RabbitMQ to confirm each message, so .send() fails loudly
    # instead of losing a message the broker never stored.
    confirm_delivery=True,
)
# The dramatiq command runs the global broker after it imports the worker
# module, so make this broker the global one.
dramatiq.set_broker(broker)

# What .send() raises when RabbitMQ cannot be reached, or does not answer a
# new connection within pika's stack_timeout (15 s): Dramatiq wraps the first
# error, not the second.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    dramatiq.errors.BrokerConnectionError,
    AMQPConnectorException,
)
