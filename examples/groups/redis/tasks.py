"""The actors of a job, its broker and its result store.

The worker and the app import it.
"""

# [docs:broker]
import html.parser
import os

import dramatiq
import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend as BarrierBackend
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
client = redis.Redis.from_url(
    REDIS_URL,
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
broker = RedisBroker(client=client)

# What the broker and the result store raise when Redis cannot be reached,
# does not answer in time, or is full and refuses writes: redis-py's own
# errors, not Dramatiq's. OSError: this process has no file descriptor left
# for a new connection.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    OSError,
)
# [docs:broker:end]

# [docs:limits]
# A step skips a message that waited this long since it was first sent,
# retries included, and stops a run that lasts this long. So each step ends
# within MAX_AGE_MS + TIME_LIMIT_MS of being queued.
MAX_AGE_MS = 30 * 60 * 1000
TIME_LIMIT_MS = 60 * 1000
# A job is three steps in a row: strip_tags, count_words, then add_up.
JOB_DEADLINE_MS = 3 * (MAX_AGE_MS + TIME_LIMIT_MS)
# Results outlive the job: add_up reads the first count at the latest when
# the job's deadline comes.
RESULT_TTL_MS = JOB_DEADLINE_MS
# [docs:limits:end]

# [docs:results]
# Results and the groups' counters live in Redis. 2 s to connect and for each
# reply, as for the broker.
results_redis = redis.Redis.from_url(
    REDIS_URL, socket_connect_timeout=2, socket_timeout=2
)
result_backend = RedisBackend(client=results_redis)
# Counts down each group's unfinished members, and queues the group's
# callback when none is left. Add it before Results: Dramatiq runs the
# middleware's after-hooks last added first, so Results stores a member's
# result before GroupCallbacks counts the member as done.
broker.add_middleware(
    GroupCallbacks(BarrierBackend(client=results_redis), barrier_ttl=JOB_DEADLINE_MS)
)
broker.add_middleware(Results(backend=result_backend, result_ttl=RESULT_TTL_MS))
# Set the broker before declaring any actor: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)
# [docs:results:end]


# [docs:actors]
class TextOnly(html.parser.HTMLParser):
    """Collects the text of an HTML document: no tags, scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0  # How many <script> or <style> elements we are in.

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


# Every step stores its result, and fails for good after 3 retries or
# MAX_AGE_MS: the app can then tell that the job will not finish.
STEP = {
    "queue_name": "groups",
    "store_results": True,
    "max_retries": 3,
    "max_age": MAX_AGE_MS,
    "time_limit": TIME_LIMIT_MS,
}


@dramatiq.actor(**STEP)
def strip_tags(document: str) -> str:
    parser = TextOnly()
    parser.feed(document)
    parser.close()
    # The text between two tags is kept apart: "a<br>b" is two words, and
    # so is "un<b>done</b>".
    return " ".join(parser.parts)


@dramatiq.actor(**STEP)
def count_words(text: str) -> int:
    return len(text.split())


@dramatiq.actor(**STEP)
def add_up(count_ids: list[str]) -> int:
    """The job's callback: GroupCallbacks queues it when the last count ends.

    It may run early, or twice: a count delivered twice counts down twice.
    A count not stored yet raises ResultMissing, and Dramatiq retries; the
    sum is the same each time it runs.
    """
    return sum(result_of(count_words, count_id) for count_id in count_ids)


def result_of(actor: dramatiq.Actor, message_id: str) -> object:
    """The stored result of ``actor``'s message ``message_id``; never waits.

    Raises ResultMissing while the message has not run, and ResultFailure
    once it has failed for good.
    """
    message = Message(
        queue_name=actor.queue_name,
        actor_name=actor.actor_name,
        args=(),
        kwargs={},
        options={},
        message_id=message_id,
    )
    return message.get_result(backend=result_backend, block=False)


# [docs:actors:end]
