"""The two brokers the guide covers: where they are, how to reach and clean them.

noxfile.py imports this module too, before any third-party package is
installed, so only the methods that talk to a broker import its client.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from support.processes import free_port


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

    @property
    def namespace(self) -> str:
        """The RabbitMQ vhost or the Redis database number that ``url`` names."""
        path = unquote(urlsplit(self.url).path.removeprefix("/"))
        if self.name == "rabbitmq":
            return path or "/"
        return path or "0"

    def url_in_namespace(self, number: int) -> str:
        """``url``, moved to test namespace ``number``: vhost guide-N or database N.

        Tests running in parallel each get a namespace of their own, so no
        test sees, consumes or flushes another test's messages.
        """
        parts = urlsplit(self.url)
        name = f"guide-{number}" if self.name == "rabbitmq" else str(number)
        return urlunsplit(parts._replace(path="/" + quote(name, safe="")))

    def ensure_namespace(self) -> None:
        """Create ``url``'s RabbitMQ vhost if it is missing (Redis has 16 databases).

        Through rabbitmqctl when RabbitMQ runs on this machine, else through
        the management API on port 15672 (the docker compose and GitHub
        Actions brokers); failing both, raise with the commands to run.
        """
        if self.name != "rabbitmq" or self.namespace == "/" or self._vhost_exists():
            return
        parts = urlsplit(self.url)
        user = unquote(parts.username or "guest")
        vhost = self.namespace
        if shutil.which("rabbitmqctl") and self.address[0] in LOOPBACK:
            for command in (
                ["rabbitmqctl", "add_vhost", vhost],
                ["rabbitmqctl", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
            ):
                subprocess.run(command, capture_output=True, check=True, timeout=60)
            return
        api = f"http://{self.address[0]}:15672/api"
        password = unquote(parts.password or "guest")
        everything = {"configure": ".*", "write": ".*", "read": ".*"}
        try:
            _put(f"{api}/vhosts/{quote(vhost, safe='')}", {}, user, password)
            _put(
                f"{api}/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
                everything,
                user,
                password,
            )
        except OSError as error:
            raise RuntimeError(
                f"RabbitMQ has no vhost {vhost!r} for parallel tests, and "
                f"neither rabbitmqctl nor the management API ({error}) could "
                f"make it. Run `rabbitmqctl add_vhost {vhost}` and "
                f"`rabbitmqctl set_permissions -p {vhost} {user} '.*' '.*' '.*'` "
                "where RabbitMQ runs, or run the tests one at a time (-n 0)."
            ) from None

    def _vhost_exists(self) -> bool:
        import pika

        try:
            pika.BlockingConnection(pika.URLParameters(self.url)).close()
        except pika.exceptions.ConnectionClosedByBroker as error:
            if "vhost" not in str(error):  # 530 NOT_ALLOWED - vhost not found
                raise
            return False
        except pika.exceptions.ProbableAccessDeniedError:
            return False  # RabbitMQ 3 ends the handshake on a missing vhost.
        return True

    def cli_command(self, command: list[str]) -> list[str]:
        """A redis-cli or rabbitmqctl list command, aimed at ``url``'s namespace."""
        if command[0] == "redis-cli":
            return [command[0], "-n", self.namespace, *command[1:]]
        if command[:2] == ["rabbitmqctl", "list_queues"]:
            return [*command[:2], "-p", self.namespace, *command[2:]]
        raise ValueError(f"cannot aim {command[:2]} at a namespace")

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


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _put(url: str, body: dict, user: str, password: str) -> None:
    """One PUT to RabbitMQ's management API, as JSON, with basic auth."""
    import base64
    import json
    import urllib.request

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


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


@contextmanager
def hung_server() -> Iterator[int]:
    """The port of a server that accepts connections and never answers.

    The kernel completes the TCP handshake for a listening socket that never
    calls accept(), as for a frozen or overloaded broker.
    """
    with socket.socket() as server:
        server.bind(("127.0.0.1", free_port()))
        server.listen(8)
        yield server.getsockname()[1]


@contextmanager
def hung_broker_url(broker: Broker) -> Iterator[str]:
    """A URL for ``broker`` on a hung_server(), which gives up after 1 s
    instead of the clients' defaults (pika 15 s, redis-py 5 s)."""
    with hung_server() as port:
        if broker.name == "rabbitmq":
            yield f"amqp://127.0.0.1:{port}/?stack_timeout=1"
        else:
            yield f"redis://127.0.0.1:{port}/0?socket_timeout=1"
