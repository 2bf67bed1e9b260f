"""The actors the benchmark runs. The worker imports this module; so does the app."""

import os
import smtplib
import socket
import time
from email.message import EmailMessage

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

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
