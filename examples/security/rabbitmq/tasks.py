"""The actor, which trusts nothing it reads from the broker."""

# [docs:broker]
import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from publish_timeout import PublishTimeout

broker = RabbitmqBroker(
    # The URL, password included, comes from the environment: amqps://
    # with a real user in production, never written in the code.
    url=os.environ.get("RABBITMQ_URL", "amqp://127.0.0.1:5672"),
    confirm_delivery=True,
)
# Give up on a RabbitMQ that stops answering after 2 s (see Configure).
broker.parameters.stack_timeout = 2
broker.add_middleware(PublishTimeout(seconds=2))
dramatiq.set_broker(broker)

BROKER_ERRORS: tuple[type[Exception], ...] = (
    dramatiq.errors.BrokerConnectionError,
    AMQPConnectorException,
    OSError,
)
# [docs:broker:end]


class InvalidMessage(ValueError):
    """A message no honest sender would send: retrying cannot fix it."""


# [docs:actor]
# throws: an invalid message fails once and goes to the dead-letter queue.
@dramatiq.actor(queue_name="security", throws=(InvalidMessage,))
def export_account(account_id: int) -> None:
    # Anyone who can write to the broker can send this actor any JSON, so
    # check the arguments again here, not only in the view. bool is a
    # subclass of int: rule it out by name.
    if type(account_id) is not int or account_id <= 0:
        raise InvalidMessage(f"account_id must be a positive integer: {account_id!r}")
    # Load the account here, by its id: what the database holds now, not a
    # copy taken when the message was sent.
    print(f"Exporting account {account_id}.")


# [docs:actor:end]
