"""The broker and its result store. Every module that declares actors imports it first."""

import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend
from pika.adapters.utils.connection_workflow import AMQPConnectorException

# Dramatiq has no result backend for RabbitMQ: results go to Redis.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

broker = RabbitmqBroker(
    url=os.environ.get("RABBITMQ_URL", "amqp://127.0.0.1:5672"),
    # Wait for RabbitMQ to confirm each message, so .send() fails loudly
    # instead of losing a message the broker never stored.
    confirm_delivery=True,
)
# Results stores what actors with store_results=True return, in Redis.
broker.add_middleware(Results(backend=RedisBackend(url=REDIS_URL)))
# Set the broker before any actor is declared: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)

# What .send() raises when RabbitMQ cannot be reached, or does not answer a
# new connection within pika's stack_timeout (15 s): Dramatiq wraps the first
# error, not the second.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    dramatiq.errors.BrokerConnectionError,
    AMQPConnectorException,
)
