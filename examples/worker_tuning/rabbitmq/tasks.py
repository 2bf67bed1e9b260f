"""Two actors on two queues: quick notifications and slow, CPU-heavy reports."""

import os
import time

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

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


@dramatiq.actor(queue_name="tuning")
def notify(text: str) -> None:
    # A real app would call an e-mail or chat API here: I/O-bound work.
    print(f"Notified: {text}")


@dramatiq.actor(
    queue_name="tuning-slow",
    # No report takes a minute: one that does is stuck, so stop it.
    time_limit=60_000,
    # Run a stopped report once more, 1 to 2 s later, then dead-letter it.
    max_retries=1,
    min_backoff=1_000,
)
def build_report(seconds: float) -> None:
    print(f"Building a {seconds:g} s report...")
    # A stand-in for number crunching: it keeps one CPU core busy.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    print(f"Built the {seconds:g} s report.")
    # Hand the quick follow-up to the fast queue.
    notify.send(f"Your {seconds:g} s report is ready.")
