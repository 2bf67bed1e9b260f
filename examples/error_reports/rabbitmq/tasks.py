"""The feed-import actor, its broker, and its error reports. The worker imports it."""

# [docs:sentry]
import logging
import os
import urllib.request

import dramatiq
import sentry_sdk
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import Middleware, Retries
from pika.adapters.utils.connection_workflow import AMQPConnectorException
from sentry_sdk.integrations.dramatiq import DramatiqIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

from publish_timeout import PublishTimeout


def drop_attempts_to_retry(event: dict, hint: dict) -> dict | None:
    """Sentry's before_send: drop the report of an attempt Dramatiq will retry."""
    return None if event.get("tags", {}).get("will_retry") == "yes" else event


def scrub_breadcrumb(crumb: dict, hint: dict) -> dict | None:
    """Sentry's before_breadcrumb: keep a log line's wording, not its values.

    Dramatiq's log lines show each message with its arguments, and the
    HTTP breadcrumbs show each URL the task fetched, query string included.
    """
    if crumb.get("category") in ("httplib", "subprocess"):
        return None
    if record := hint.get("log_record"):
        crumb["message"] = str(record.msg)
    return crumb


# Before the broker: the integration adds its middleware to each broker
# created after this call.
sentry_sdk.init(
    # The project's DSN, from the environment. Unset: nothing is reported.
    dsn=os.environ.get("SENTRY_DSN"),
    integrations=[
        DramatiqIntegration(),
        # Dramatiq logs each failed attempt as an error: keep those lines as
        # breadcrumbs, and let the integration report the exception once.
        LoggingIntegration(event_level=None),
    ],
    before_send=drop_attempts_to_retry,
    before_breadcrumb=scrub_breadcrumb,
    # Keep the messages' arguments, and every local variable, out of the
    # reports: they can hold e-mail addresses, tokens and other secrets.
    max_request_body_size="never",
    include_local_variables=False,
)
# [docs:sentry:end]


# [docs:retries]
class TagAttemptsToRetry(Middleware):
    """Tag each report with its message id, and the attempts Dramatiq will retry."""

    def before_process_message(self, broker, message):
        # A tag, not an extra: Sentry searches tags.
        sentry_sdk.get_current_scope().set_tag(
            "dramatiq_message_id", message.message_id
        )

    def after_process_message(self, broker, message, *, result=None, exception=None):
        # Retries, which runs just before this, fails the message for good
        # once its retries are spent; until then, the attempt will run again.
        if exception is not None and not message.failed:
            sentry_sdk.get_current_scope().set_tag("will_retry", "yes")


# [docs:retries:end]

# [docs:broker]
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
# Tag the report of a failed attempt that Retries will run again. Before
# Retries in the list, so that it runs after Retries has decided.
broker.add_middleware(TagAttemptsToRetry(), before=Retries)
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
logger = logging.getLogger(__name__)

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
        size = len(response.read())
    logger.info("Imported %d bytes.", size)


# [docs:actor:end]
