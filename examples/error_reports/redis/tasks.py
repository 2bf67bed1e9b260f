"""The feed-import actor, its broker, and its error reports. The worker imports it."""

# [docs:sentry]
import logging
import os
import urllib.request

import dramatiq
import redis
import sentry_sdk
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware, Retries
from sentry_sdk.integrations.dramatiq import DramatiqIntegration
from sentry_sdk.integrations.logging import LoggingIntegration


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
client = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(client=client)
# Tag the report of a failed attempt that Retries will run again. Before
# Retries in the list, so that it runs after Retries has decided.
broker.add_middleware(TagAttemptsToRetry(), before=Retries)
# Set the broker before declaring any actor: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)

# What .send() raises when Redis cannot be reached, does not answer in time,
# or is full and refuses writes: redis-py's own errors, not Dramatiq's. And
# OSError when this process has no file descriptor left for a connection.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
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
