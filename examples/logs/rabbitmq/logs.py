"""Put the id of the message being processed on every log line, as text or JSON.

The worker and the app both call setup() when they import tasks.py.
"""

import contextvars
import logging
import os

import dramatiq
from dramatiq.middleware import Middleware
from pythonjsonlogger.json import JsonFormatter

# The id of the message this thread runs, or "-" between messages.
current_message_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_message_id", default="-"
)
# Dramatiq's own format, with the message id after the level.
TEXT_FORMAT = (
    "[%(asctime)s] [PID %(process)d] [%(threadName)s] [%(name)s] "
    "[%(levelname)s] [%(message_id)s] %(message)s"
)
JSON_FIELDS = [
    "asctime", "process", "threadName", "name", "levelname", "message_id", "message"
]  # fmt: skip


class MessageIdFilter(logging.Filter):
    """Give each log record the id of the message its thread runs.

    A record logged with ``extra={"message_id": ...}`` keeps its own.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "message_id"):
            record.message_id = current_message_id.get()
        return True


class MessageIdMiddleware(Middleware):
    """Set the current message id while a worker thread processes a message."""

    def before_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message
    ) -> None:
        current_message_id.set(message.message_id)

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *,
        result: object = None, exception: BaseException | None = None,
    ) -> None:  # fmt: skip
        current_message_id.set("-")

    after_skip_message = after_process_message


def setup() -> None:
    """Format every handler of the root logger with the message id.

    LOG_FORMAT=json writes one JSON object per line instead of text.
    """
    root = logging.getLogger()
    if not root.handlers:  # The app; the worker's handlers are Dramatiq's.
        logging.basicConfig(level=logging.INFO)
    if os.environ.get("LOG_FORMAT") == "json":
        formatter: logging.Formatter = JsonFormatter(JSON_FIELDS)
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
    for handler in root.handlers:
        handler.addFilter(MessageIdFilter())
        handler.setFormatter(formatter)
