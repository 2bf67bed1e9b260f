"""The actors. The worker imports this module; so do the Flask app and the tests."""

# [docs:broker]
import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

broker: dramatiq.Broker
if os.environ.get("UNIT_TESTS") == "1":
    # Your unit tests set UNIT_TESTS=1 (see tests/conftest.py): messages stay
    # in this process, and no broker needs to run.
    broker = StubBroker()
else:
    broker = RabbitmqBroker(
        url=os.environ.get("RABBITMQ_URL", "amqp://127.0.0.1:5672"),
        # Wait for RabbitMQ to confirm each message, so .send() fails loudly
        # instead of losing a message the broker never stored.
        confirm_delivery=True,
    )
# Set the broker before declaring any actor: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)

# What .send() raises when RabbitMQ cannot be reached, or does not answer a
# new connection within pika's stack_timeout (15 s): Dramatiq wraps the first
# error, not the second.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    dramatiq.errors.BrokerConnectionError,
    AMQPConnectorException,
)
# [docs:broker:end]


@dramatiq.actor(queue_name="testing")
def add(x: int, y: int) -> None:
    print(f"The sum of {x} and {y} is {x + y}.")
