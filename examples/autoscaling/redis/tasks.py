"""The feed-import actor. Every worker pod imports this module; so does the app."""

# [docs:broker]
import logging
import os
import urllib.request

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from database import connect
from health import Heartbeat

client = redis.Redis.from_url(
    # The broker host's private address, and the password, come from the
    # environment (see "Point every host at the broker").
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(
    client=client,
    # Give the messages of a host that vanished back within seconds, not
    # minutes: call a worker dead after 10 s without a heartbeat (default
    # 60 s), and look for dead workers on every broker call (default: 1 call
    # in 1,000).
    heartbeat_timeout=10_000,
    maintenance_chance=1_000_000,
)
# Each worker process writes a heartbeat while it is alive and not stuck:
# the pod's liveness probe reads them.
broker.add_middleware(Heartbeat())
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


# A pod that KEDA removes gets 25 s to finish its imports (worker.yaml). The
# time limit stops one at 20 s, and Dramatiq retries it later; one blocked in
# a network or database call stops at that call's 10 s timeout instead.
@dramatiq.actor(
    queue_name="autoscaling", max_retries=3, min_backoff=15_000, time_limit=20_000
)
def import_feed(import_id: str, url: str) -> None:
    # The slow part, outside any transaction. A server that refuses, or
    # waits over 10 s to connect or to send more, raises an OSError (URLError,
    # TimeoutError), and Dramatiq retries the message. Read 10 MB at most.
    with urllib.request.urlopen(url, timeout=10) as response:
        feed = response.read(10_000_000)

    # Any host may run any copy of this message: the record that the import
    # is done lives in the database they all share, not on this host's disk.
    with connect() as db, db.transaction():
        saved = db.execute(
            "INSERT INTO imports (import_id, url, size) VALUES (%s, %s, %s)"
            " ON CONFLICT (import_id) DO NOTHING",
            (import_id, url, len(feed)),
        ).rowcount
        if not saved:
            logger.info("Import %s was done before; skipping this copy.", import_id)
            return
        # Your import's rows go here, in the same transaction: they commit
        # with the record above, or not at all.
    logger.info("Import %s: %d bytes from %s.", import_id, len(feed), url)


# [docs:actor:end]
