"""The actors of a job, its broker and its result store.

The worker and the app import it.
"""

# [docs:broker]
import html.parser
import os

import dramatiq
import redis
from dramatiq import Message
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend as BarrierBackend
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from publish_timeout import PublishTimeout

# Dramatiq has no result backend for RabbitMQ: results go to Redis.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
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

# What the broker (RabbitMQ) and the result store (Redis) raise when they
# cannot be reached, or do not answer in time: pika's timeout for a new
# connection and redis-py's socket timeout (2 s below), which Dramatiq does not
# wrap. A full Redis refuses writes with OutOfMemoryError. OSError: this
# process has no file descriptor left for a new connection.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    dramatiq.errors.BrokerConnectionError,
    AMQPConnectorException,
    OSError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
)
# [docs:broker:end]

# [docs:results]
# Results and the groups' counters live in Redis. 2 s to connect and for each
# reply, as for the broker.
results_redis = redis.Redis.from_url(
    REDIS_URL, socket_connect_timeout=2, socket_timeout=2
)
result_backend = RedisBackend(client=results_redis)
# How long Redis keeps each result. add_up reads the counts' results when
# the last count ends, so the first must still be there then: an hour covers
# a long queue.
RESULT_TTL_MS = 60 * 60 * 1000
# Counts down each group's unfinished members, and queues the group's
# callback when none is left. Add it before Results: Dramatiq runs the
# middleware's after-hooks last added first, so Results stores a member's
# result before GroupCallbacks counts the member as done.
broker.add_middleware(GroupCallbacks(BarrierBackend(client=results_redis)))
broker.add_middleware(Results(backend=result_backend, result_ttl=RESULT_TTL_MS))
# Set the broker before declaring any actor: @dramatiq.actor binds each
# actor to whatever broker is global at that moment.
dramatiq.set_broker(broker)
# [docs:results:end]


# [docs:actors]
class TextOnly(html.parser.HTMLParser):
    """Collects the text of an HTML document, without its tags."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


# Both steps store their results: a step that fails 3 times is stored as
# failed, so the app can tell the job will never finish.
@dramatiq.actor(queue_name="groups", store_results=True, max_retries=3)
def strip_tags(document: str) -> str:
    parser = TextOnly()
    parser.feed(document)
    parser.close()
    # Tags separate words, as a browser shows them: "a<br>b" is two words.
    return " ".join(parser.parts)


@dramatiq.actor(queue_name="groups", store_results=True, max_retries=3)
def count_words(text: str) -> int:
    return len(text.split())


@dramatiq.actor(queue_name="groups", store_results=True, max_retries=3)
def add_up(count_ids: list[str]) -> int:
    """The job's last step: the group runs it once every count is stored."""
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
