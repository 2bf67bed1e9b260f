"""Two actors that call a third-party API within its limits.

The worker and send.py import this module.
"""

# [docs:broker]
import json
import logging
import os
import random
import time
import urllib.parse
import urllib.request

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage
from dramatiq.rate_limits import ConcurrentRateLimiter, WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

client = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(client=client)
# run_later() below needs the message each worker thread is running.
broker.add_middleware(CurrentMessage())
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

# [docs:backend]
# The limiters keep their counts in the broker's Redis, where every worker on
# every host sees the same ones.
limits = RedisBackend(client=client)
# [docs:backend:end]

# [docs:run-later]
logger = logging.getLogger(__name__)


def run_later(delay_ms: int, reason: str) -> None:
    """Queue the running message again, due in ``delay_ms``, and let this run end.

    Raising instead would spend one of the message's retries and back off for
    longer each time. The copy keeps the message's id and its first
    timestamp, so ``max_age`` still fails a message that keeps coming back.
    This run ends as a success: do not use it in an actor that stores its
    result, or in a pipeline or group, whose next step would start now.
    """
    message = CurrentMessage.get_current_message()
    logger.info(
        "%s: %s, id %s, again in %d ms.", reason, message, message.message_id, delay_ms
    )
    broker.enqueue(message, delay=delay_ms)


# [docs:run-later:end]

# [docs:api]
API_URL = os.environ.get("API_URL", "http://127.0.0.1:5001")


def call_api(method: str, path: str) -> dict[str, object]:
    """Call the provider; any HTTP error raises, and Dramatiq retries the message."""
    request = urllib.request.Request(API_URL + path, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


# [docs:api:end]

# [docs:window]
# The provider allows 10 calls a second, from all your workers together.
# Dramatiq counts calls per whole second of the workers' clocks, and a call
# counted late in one second can reach the provider early in its next one.
# So allow 10 calls in any two whole seconds in a row: 5 a second on average,
# and never more than 10 in a second of the provider's.
GEOCODE_LIMIT = WindowRateLimiter(limits, "geocode-api", limit=10, window=2)


@dramatiq.actor(queue_name="api", max_retries=3, max_age=3_600_000)
def geocode(address: str) -> None:
    with GEOCODE_LIMIT.acquire(raise_on_failure=False) as acquired:
        if not acquired:
            # Come back at a random moment of the next two seconds, when the
            # window has moved on, so the messages that waited do not all
            # arrive at once.
            now_ms = int(time.time() * 1000)
            run_later(1000 - now_ms % 1000 + random.randrange(2000), "Limit reached")
            return
        place = call_api(
            "GET", "/geocode?" + urllib.parse.urlencode({"address": address})
        )
    logger.info("%s is at %s, %s.", address, place["lat"], place["lon"])


# [docs:window:end]

# [docs:mutex]
EXPORT_TIME_LIMIT_MS = 60_000


@dramatiq.actor(
    queue_name="api",
    max_retries=3,
    max_age=3_600_000,
    time_limit=EXPORT_TIME_LIMIT_MS,
)
def export_account(account_id: int) -> None:
    # One export of an account at a time, on every host. The key expires 10 s
    # after the time limit: a worker killed mid-export blocks no one longer.
    mutex = ConcurrentRateLimiter(
        limits, f"export-{account_id}", limit=1, ttl=EXPORT_TIME_LIMIT_MS + 10_000
    )
    with mutex.acquire(raise_on_failure=False) as acquired:
        if not acquired:
            run_later(random.randrange(500, 1500), f"Account {account_id} is exporting")
            return
        call_api("POST", f"/exports/{account_id}")
    logger.info("Exported account %s.", account_id)


# [docs:mutex:end]
