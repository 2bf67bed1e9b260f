"""The actor, its broker and its result store. The worker and the app import it."""

import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# [docs:broker]
broker = RedisBroker(url=REDIS_URL)

# What the broker and the result store raise when Redis cannot be reached:
# redis-py's own error, not Dramatiq's.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError,)
# [docs:broker:end]

# [docs:results]
# How long Redis keeps a result after its task ends: Dramatiq's default,
# 10 minutes, written out because the app keeps task ids as long.
RESULT_TTL_MS = 10 * 60 * 1000

results_redis = redis.Redis.from_url(REDIS_URL)
result_backend = RedisBackend(client=results_redis)
# Add Results before declaring the actor: it is what makes store_results
# and result_ttl valid actor options.
broker.add_middleware(Results(backend=result_backend, result_ttl=RESULT_TTL_MS))
# Set the broker before declaring any actor: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)
# [docs:results:end]


@dramatiq.actor(queue_name="results", store_results=True, max_retries=0)
def divide(x: int, y: int) -> float:
    # No retries: a division that failed fails again. With the default 20,
    # the failure would be stored only after the last retry, weeks from now.
    return x / y
