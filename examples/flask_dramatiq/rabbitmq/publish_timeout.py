"""Give up on a RabbitMQ that stops answering: .send() fails within seconds.

pika has no time limit on a publish. When RabbitMQ stops answering on an
open connection (a hung node, a network that drops packets), .send() waits
for its publisher confirm until pika's heartbeat gives up: about 2.5
minutes, with the request's thread blocked all along.

This middleware arms a timer on the sending thread's connection before each
publish, and disarms it when the confirm comes. pika's public call_later()
cannot do it: its callbacks wait for process_data_events(), which a publish
never calls. So it uses pika's internal timer and stream calls, the ones
pika's own heartbeat checker makes. They are not part of pika's API:
requirements.txt allows only pika 1.4, the release this was tested with,
and the guide's tests prove it works with the pika they install.
"""

import threading

import dramatiq
import pika
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import MiddlewareError
from pika.adapters.utils.connection_workflow import AMQPConnectorException


class PublishFailed(ConnectionClosed, MiddlewareError):
    """No confirm in time, or no connection: the message may or may not be queued.

    A ConnectionClosed, as Dramatiq's own errors; a MiddlewareError, so that
    Dramatiq lets it out of the middleware instead of logging it.
    """


class PublishTimeout(dramatiq.Middleware):
    """Stop waiting for RabbitMQ's confirm of a message after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        # Each thread has its own connection, timer and timed-out message.
        self.local = threading.local()

    def before_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None
    ) -> None:
        self.after_enqueue(broker, message, delay)  # Disarm a leftover timer.
        if getattr(self.local, "timed_out", None) == message.message_id:
            # Dramatiq retries a send whose connection closed: not this one.
            self.local.timed_out = None
            raise PublishFailed(f"No confirm from RabbitMQ within {self.seconds} s")
        try:
            # The thread's connection, opened now if it has none (the
            # connection's stack_timeout bounds that).
            connection = broker.connection._impl
        except (pika.exceptions.AMQPError, AMQPConnectorException, OSError) as error:
            raise PublishFailed(f"Cannot connect to RabbitMQ: {error!r}") from error

        def give_up() -> None:
            # Runs in this thread, inside pika's wait for the confirm.
            self.local.timed_out = message.message_id
            connection._terminate_stream(
                pika.exceptions.AMQPHeartbeatTimeout(
                    f"No confirm from RabbitMQ within {self.seconds} s"
                )
            )

        timer = connection._adapter_call_later(self.seconds, give_up)
        self.local.timer = (connection, timer)

    def after_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None
    ) -> None:
        connection, timer = getattr(self.local, "timer", (None, None))
        self.local.timer = (None, None)
        if connection is not None and not connection.is_closed:
            connection._adapter_remove_timeout(timer)
