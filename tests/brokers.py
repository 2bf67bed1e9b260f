"""The two brokers the guide covers: where they are, how to reach and clean them.

noxfile.py imports this module too, before any third-party package is
installed, so only the methods that talk to a broker import its client.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Broker:
    name: str
    label: str
    url_variable: str
    default_url: str
    default_port: int
    start_hint: str

    @property
    def url(self) -> str:
        return os.environ.get(self.url_variable, self.default_url)

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or self.default_port

    def is_reachable(self, timeout: float = 1.0) -> bool:
        try:
            with socket.create_connection(self.address, timeout=timeout):
                return True
        except OSError:
            return False

    def unreachable_message(self) -> str:
        host, port = self.address
        return (
            f"{self.label} is not reachable at {host}:{port} "
            f"(from {self.url_variable}, default {self.default_url}). "
            f"Start it with: {self.start_hint}"
        )

    def pending(self, queue: str) -> int:
        """Count the messages waiting in ``queue``, delayed ones included."""
        if self.name == "rabbitmq":
            return sum(_rabbitmq_counts(self.url, queue, f"{queue}.DQ"))
        client = _redis_client(self.url)
        return client.hlen(f"dramatiq:{queue}.msgs") + client.hlen(
            f"dramatiq:{queue}.DQ.msgs"
        )

    def dead(self, queue: str) -> int:
        """Count the messages in ``queue``'s dead-letter queue."""
        if self.name == "rabbitmq":
            return _rabbitmq_counts(self.url, f"{queue}.XQ")[0]
        return _redis_client(self.url).hlen(f"dramatiq:{queue}.XQ.msgs")

    def flush(self, queue: str) -> None:
        """Drop every message of ``queue``, its delay and its dead-letter queue."""
        if self.name == "rabbitmq":
            import pika

            with pika.BlockingConnection(pika.URLParameters(self.url)) as connection:
                for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                    channel = connection.channel()
                    try:
                        channel.queue_purge(name)
                    except pika.exceptions.ChannelClosedByBroker:
                        pass  # The queue does not exist yet: nothing to drop.
            return
        client = _redis_client(self.url)
        names = [f"dramatiq:{queue}{suffix}" for suffix in ("", ".DQ", ".XQ")]
        # Killed workers leave their sets of unacknowledged ids behind.
        acks = client.scan_iter(match=f"dramatiq:__acks__.*.{queue}")
        client.delete(*names, *(f"{name}.msgs" for name in names), *acks)


def _rabbitmq_counts(url: str, *queues: str) -> list[int]:
    import pika

    counts = []
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        for name in queues:
            channel = connection.channel()
            try:
                counts.append(
                    channel.queue_declare(name, passive=True).method.message_count
                )
            except pika.exceptions.ChannelClosedByBroker:
                counts.append(0)  # The queue does not exist yet.
    return counts


def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url)


RABBITMQ = Broker(
    name="rabbitmq",
    label="RabbitMQ",
    url_variable="RABBITMQ_URL",
    default_url="amqp://127.0.0.1:5672",
    default_port=5672,
    start_hint="docker compose up --detach --wait rabbitmq "
    "(or: rabbitmq-server -detached && rabbitmqctl await_startup)",
)
REDIS = Broker(
    name="redis",
    label="Redis",
    url_variable="REDIS_URL",
    default_url="redis://127.0.0.1:6379/0",
    default_port=6379,
    start_hint="docker compose up --detach --wait redis "
    "(or: redis-server --daemonize yes)",
)
BROKERS = {broker.name: broker for broker in (RABBITMQ, REDIS)}
