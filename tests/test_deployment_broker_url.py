"""docs/deployment.rst, 'Keep the broker URL out of your code'.

No file of the example holds a secret; the TLS URL of worker.env.example
reaches the broker's settings; and the view, gunicorn and the worker use a
TLS URL from the environment, through a small TLS proxy in front of the
test broker, with 503 for a broker whose certificate they do not trust.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from support.deployment import (
    QUEUE,
    env_file,
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_files,  # noqa: F401  (the fixture "files")
    fixture_running,  # noqa: F401  (the fixture "running")
    post_the_guides_request,
    start_web,
    start_worker,
)
from support.examples import BROKER_UNAVAILABLE, Example
from support.processes import Process, port_is_open, wait_for

PLACEHOLDER = r"(?:|<\w+>|\$\{\w+(?::\?[^}]*)?\})"


def test_no_file_holds_a_real_looking_secret(files: Example) -> None:
    assert not (files.path / ".env").exists(), "a filled-in .env, next to the example"
    for path in sorted(files.path.iterdir()):
        if not path.is_file():
            continue
        text = path.read_text()
        # The password part of every URL with credentials.
        for password in re.findall(r"://[^:/@\s]*:([^@\s]*)@", text):
            assert re.fullmatch(PLACEHOLDER, password), (path.name, password)
        # NAME=value, NAME: value and --requirepass value, NAME a secret's.
        for value in re.findall(
            r"(?:\b[A-Z_]*(?:PASS|AUTH|SECRET|TOKEN)[A-Z_]*[=:]|--requirepass)"
            r" *(\$\{[^}]*\}|\S*)",
            text,
        ):
            assert re.fullmatch(PLACEHOLDER, value), (path.name, value)


def tls_url(example: Example) -> str:
    """The URL the worker.env.example shows, with its placeholders filled in."""
    [(name, url)] = env_file(example.path / "worker.env.example").items()
    assert name == example.broker.url_variable
    values = {"user": "flask-app", "password": "s3cret", "host": "mq.example.com"}
    return re.sub(r"<(\w+)>", lambda m: values.get(m[1], m[1]), url)


def test_tls_url_from_the_env_file_reaches_the_broker_settings(
    files: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(files.broker.url_variable, tls_url(files))
    broker = files.load("tasks", monkeypatch).broker

    if files.broker.name == "rabbitmq":
        parameters = broker.parameters
        assert parameters.ssl_options is not None  # amqps: TLS
        assert (parameters.host, parameters.port) == ("mq.example.com", 5671)
        assert parameters.virtual_host == "vhost"
        assert parameters.credentials.username == "flask-app"
        assert parameters.credentials.password == "s3cret"
    else:
        import redis

        pool = broker.client.connection_pool
        assert pool.connection_class is redis.SSLConnection  # rediss: TLS
        kwargs = pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"]) == ("mq.example.com", 6380)
        assert (kwargs["password"], kwargs["db"]) == ("s3cret", 0)


class TlsProxy:
    """A broker with TLS: accepts TLS on a free port, relays the plain bytes."""

    def __init__(self, target: tuple[str, int], certs: Path) -> None:
        self.target = target
        self.connections = 0
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs / "cert.pem", certs / "key.pem")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self.call(
            asyncio.start_server(self.relay, "127.0.0.1", 0, ssl=context)
        )
        self.port = self.server.sockets[0].getsockname()[1]

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    async def relay(
        self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter
    ) -> None:
        # asyncio calls this once the TLS handshake has succeeded.
        self.connections += 1
        try:
            broker, to_broker = await asyncio.open_connection(*self.target)
            await asyncio.gather(
                pipe(client, to_broker), pipe(broker, to_client), return_exceptions=True
            )
        except asyncio.CancelledError:
            to_client.close()  # close() cancelled this relay: end quietly.

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA (ca.pem) and a certificate for localhost that it signed."""
    folder = tmp_path_factory.mktemp("certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for command in (
        ["-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Test CA"],
        ["-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost"]
        + ["-addext", "basicConstraints=critical,CA:FALSE"]
        + ["-CA", "ca.pem", "-CAkey", "ca.key"],
    ):
        subprocess.run(
            ["openssl", "req", "-x509", "-days", "1", *ec, *command],
            cwd=folder,
            capture_output=True,
            check=True,
            timeout=30,
        )
    return folder


@pytest.fixture
def tls_proxy(example: Example, certs: Path) -> Iterator[TlsProxy]:
    proxy = TlsProxy(example.broker.address, certs)
    yield proxy
    proxy.close()


def through(example: Example, proxy: TlsProxy) -> str:
    """The test broker's URL with TLS: amqps:// or rediss://, to localhost:PORT."""
    url = urlsplit(example.broker.url)
    userinfo = url.netloc.rpartition("@")[0]
    netloc = (
        f"{userinfo}@localhost:{proxy.port}" if userinfo else f"localhost:{proxy.port}"
    )
    return urlunsplit(url._replace(scheme=url.scheme + "s", netloc=netloc))


def test_view_queues_over_tls_and_answers_503_for_an_untrusted_broker(
    example: Example,
    tls_proxy: TlsProxy,
    certs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = through(example, tls_proxy)
    # SSL_CERT_FILE names the CAs that OpenSSL trusts; pika reads it when
    # tasks.py builds the broker, redis-py when it connects.
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "ca.pem"))
    app = load_app(example, monkeypatch, url)
    response = app.test_client().post("/add", data={"x": "1", "y": "2"})
    assert response.status_code == 202
    assert example.broker.pending(QUEUE) == 1

    # The same URL, trusting a CA that did not sign the broker's certificate.
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "cert.pem"))
    app = load_app(example, monkeypatch, url)
    response = app.test_client().post("/add", data={"x": "3", "y": "4"})
    assert response.status_code == 503
    assert response.get_json() == BROKER_UNAVAILABLE
    assert example.broker.pending(QUEUE) == 1


def load_app(example: Example, monkeypatch: pytest.MonkeyPatch, url: str):
    """Import app.py with ``url`` in the environment; the tests' own URL stays."""
    plain = example.broker.url
    monkeypatch.setenv(example.broker.url_variable, url)
    app = example.load("app", monkeypatch).app  # tasks.py reads the URL now.
    monkeypatch.setenv(example.broker.url_variable, plain)
    return app


def test_web_and_worker_use_a_tls_url_from_the_environment(
    example: Example,
    tmp_path: Path,
    running: list[Process],
    tls_proxy: TlsProxy,
    certs: Path,
) -> None:
    env = {
        example.broker.url_variable: through(example, tls_proxy),
        "SSL_CERT_FILE": str(certs / "ca.pem"),
    }
    worker = start_worker(example, tmp_path, running, **env)
    _, port = start_web(example, tmp_path, running, env)
    wait_for(lambda: port_is_open(port), timeout=15, what="gunicorn")

    assert post_the_guides_request(example, port)["message_id"]
    worker.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)
    # Both processes went through the TLS port: the plain one is not in env.
    assert tls_proxy.connections >= 2
