"""The feed-import actor and its broker, which counts and times every message."""

# [docs:broker]
import os
import urllib.request

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware.prometheus import Prometheus
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
# In the worker only, which the Procfile gives a folder for its counts:
# count, time and track each message its processes run, and serve the counts
# of all of them from one more process. The app has nothing to count there.
if "dramatiq_prom_db" in os.environ:
    broker.add_middleware(Prometheus())
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
# The retry budget: 3 retries, 15 s to 1 min apart, unless set otherwise.
MAX_RETRIES = int(os.environ.get("FEED_MAX_RETRIES", "3"))
MIN_BACKOFF_MS = int(os.environ.get("FEED_MIN_BACKOFF_MS", "15000"))
MAX_BACKOFF_MS = int(os.environ.get("FEED_MAX_BACKOFF_MS", "60000"))


@dramatiq.actor(
    queue_name="feeds",
    max_retries=MAX_RETRIES,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
)
def import_feed(url: str) -> None:
    """Fetch the feed at ``url``. A server that does not answer raises URLError."""
    with urllib.request.urlopen(url, timeout=5) as response:
        response.read()


# [docs:actor:end]
