"""The actors the benchmark runs. The worker imports this module; so does the app."""

import os
import smtplib
import socket
import time
from email.message import EmailMessage

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from publish_timeout import PublishTimeout

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

# [docs:slow-work]
QUEUE = "bench"
SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
SMTP_PORT = int(os.environ.get("SMTP_PORT", "8025"))


# A bare stand-in for the e-mail chapter's actor, without its retry policy,
# Message-ID or duplicate check: the benchmark measures the queue, not SMTP.
@dramatiq.actor(queue_name=QUEUE)
def send_welcome(to: str) -> None:
    message = EmailMessage()
    message["From"] = "noreply@example.com"
    message["To"] = to
    message["Subject"] = "Welcome!"
    message.set_content("Hello,\n\nthanks for signing up.\n")
    with smtplib.SMTP(SMTP_HOST, SMTP_PORT, timeout=10) as smtp:
        smtp.send_message(message)


# [docs:slow-work:end]


# [docs:probes]
def report_done(port: int, token: str) -> None:
    """Tell the benchmark, on UDP 127.0.0.1:port, that ``token`` is done, and when.

    One datagram and no reply to wait for: it costs microseconds, and it
    does not touch the broker being measured.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(f"{token} {time.time()}".encode(), ("127.0.0.1", port))


@dramatiq.actor(queue_name=QUEUE)
def noop(port: int, token: str) -> None:
    report_done(port, token)


@dramatiq.actor(queue_name=QUEUE)
def wait_io(port: int, token: str, seconds: float) -> None:
    # Stands for a call to a slow API: the thread waits, the CPU does not.
    time.sleep(seconds)
    report_done(port, token)


# [docs:probes:end]
