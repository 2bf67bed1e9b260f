"""The feed-import actor. Every worker host imports this module; so does the app."""

# [docs:broker]
import logging
import os
import urllib.request

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from database import connect

# Bound every wait of .send() on a Redis or a Sentinel that stops answering:
# 2 s to connect and 2 s for each reply (redis-py's default: 5 s), and no
# second try: a client of a Sentinel would try a dead one 10 more times
# (redis-py's default), and hold a send for the whole failover. The app
# answers 503 instead; its client tries again later.
BOUNDS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
    "retry": Retry(NoBackoff(), 0),
}

if "REDIS_SENTINELS" in os.environ:
    # The Sentinels, "host:port,host:port,...", know which Redis is the
    # primary now. The client asks them at each new connection, and again
    # after a failover, when the old primary refuses writes or is gone.
    sentinels = [
        (host, int(port))
        for host, _, port in (
            address.rpartition(":")
            for address in os.environ["REDIS_SENTINELS"].split(",")
        )
    ]
    client = Sentinel(
        sentinels,
        sentinel_kwargs={"password": os.environ.get("REDIS_PASSWORD"), **BOUNDS},
    ).master_for(
        os.environ.get("REDIS_SERVICE", "dramatiq"),
        password=os.environ.get("REDIS_PASSWORD"),
        **BOUNDS,
    )
else:
    # One Redis, as on the other pages: on one machine, for a first try.
    client = redis.Redis.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), **BOUNDS
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


@dramatiq.actor(queue_name="ha", max_retries=3, min_backoff=15_000)
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
