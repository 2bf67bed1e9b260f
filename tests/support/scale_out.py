"""The Scale out page's machines: a broker host, a database host, a web host
and worker hosts, each a sandbox on one private network (support/hosts.py).

Each host runs what the page tells a reader to run there, as written: the
broker host's commands, the web host's gunicorn, each worker host's
``dramatiq``, all with the page's environment section first. The database
host runs a PostgreSQL of its own, set up as the page's prose says (listening
on its private address, a password for the app's user). This machine, at
198.51.100.1, stands in for the internet with a feed server that counts who
fetched what, and when.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from markers import marked_lines
from support.examples import example_params
from support.hosts import (
    NETWORK,
    SERVICE_FOLDERS,
    Host,
    Lan,
    as_root,
    sandboxes_work,
)
from support.processes import port_is_open, wait_for

BROKER, DATABASE, WEB = f"{NETWORK}.10", f"{NETWORK}.20", f"{NETWORK}.30"
WORKERS = (41, 42)
FEEDS_PORT = 8080
FEED = b"<rss></rss>"


@dataclass
class Fetch:
    at: float  # time.monotonic() when the request came in
    path: str
    host: str  # the client's address: which host fetched it


@dataclass
class FeedServer:
    """Feeds at http://198.51.100.1:8080/<anything>, each ``delay`` s slow."""

    delay: float = 0.5
    fetches: list[Fetch] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches.append(
                    Fetch(time.monotonic(), self.path, self.client_address[0])
                )
                time.sleep(server.delay)
                self.send_response(200)
                self.send_header("Content-Length", str(len(FEED)))
                self.end_headers()
                self.wfile.write(FEED)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer((f"{NETWORK}.1", FEEDS_PORT), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://{NETWORK}.1:{FEEDS_PORT}/{name}"

    def times_fetched(self) -> Counter[str]:
        return Counter(fetch.path for fetch in list(self.fetches))

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


class Hosts:
    """The page's machines for one broker's example folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.broker_name = folder.name
        self.secrets = {
            "RABBITMQ_PASSWORD": secrets.token_urlsafe(18),
            "ERLANG_COOKIE": secrets.token_urlsafe(18),
            "REDIS_PASSWORD": secrets.token_urlsafe(18),
            "PGPASSWORD": secrets.token_urlsafe(18),
            "KEDA_PASSWORD": secrets.token_urlsafe(18),
        }
        self.workers: dict[int, tuple[Host, subprocess.Popen]] = {}
        self.brokers: dict[str, Host] = {}
        self.lan = Lan()
        try:
            self.feeds = FeedServer()
            self.database = self.lan.host("database", 20, masked=("/run",))
            start_postgresql(self.database, self.secrets["PGPASSWORD"])
            BROKER_HOSTS[folder.parent.name, folder.name](self)
            self.web = self.lan.host("web", 30)
            self.run_on(self.web, "create-tables")
            self.web_server = self.web.start(
                self.section_script("web-host"),
                self.web.home / "web.log",
                cwd=folder,
                env=self.secrets,
            )
            wait_for(
                lambda: port_is_open(8000, WEB),
                timeout=30,
                what=f"gunicorn on the web host:\n{self.log(self.web, 'web')}",
            )
        except BaseException:
            self.close()
            raise

    def broker_node(self, name: str, number: int, *sections: str) -> Host:
        """A broker host named ``name`` that runs the page's ``sections``, in
        order, with its own address in NODE_ADDRESS."""
        host = self.lan.host(name, number, masked=SERVICE_FOLDERS)
        for section in sections:
            host.run_section(
                self.folder, section, {**self.secrets, "NODE_ADDRESS": host.address}
            )
        self.brokers[name] = host
        return host

    @property
    def database_url(self) -> str:
        return f"postgresql://flask_app:{self.secrets['PGPASSWORD']}@{DATABASE}/app"

    def section_script(self, *sections: str) -> str:
        """The environment section, then ``sections``, as one script."""
        lines = [
            line
            for section in ("environment", *sections)
            for line in marked_lines(self.folder / "commands.sh", section)
        ]
        return "\n".join(as_root(line) for line in lines)

    def run_on(self, host: Host, section: str, script: str = "") -> str:
        done = host.run(
            self.section_script(section) + script,
            cwd=self.folder,
            env=self.secrets,
            check=False,
        )
        assert done.returncode == 0, f"{section} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def start_worker_host(self, number: int) -> Host:
        """A new worker host at 198.51.100.<number>, running the page's worker."""
        host = self.lan.host(f"worker{number}", number)
        worker = host.start(
            self.section_script("worker-host"),
            host.home / "worker.log",
            cwd=self.folder,
            env={**self.secrets, **self.heartbeats(host)},
        )
        self.workers[number] = (host, worker)
        return host

    @staticmethod
    def heartbeats(host: Host) -> dict[str, str]:
        """Where a worker host's health.py keeps its heartbeats: a folder of
        the host's own, as a pod's /tmp is its own."""
        return {"HEARTBEAT_DIR": str(host.home / "heartbeats")}

    def stop_worker_host(self, number: int) -> None:
        """Stop the worker as systemd would (SIGTERM, then wait), and the host."""
        host, worker = self.workers.pop(number)
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        host.close()

    def power_off(self, number: int) -> None:
        host, _ = self.workers.pop(number)
        host.power_off()

    def send(self, count: int, prefix: str, *, delay_ms: int | None = None) -> None:
        """Queue ``count`` imports from the web host, with the example's actor,
        to run at once or ``delay_ms`` later."""
        script = (
            "\npython - <<'EOF'\n"
            "import uuid\n"
            "from tasks import import_feed\n"
            f"for n in range({count}):\n"
            "    import_feed.send_with_options(\n"
            f"        args=(str(uuid.uuid4()), {self.feeds.url(prefix)!r} + str(n)),\n"
            f"        delay={delay_ms!r},\n"
            "    )\n"
            "EOF\n"
        )
        self.web.run(self.section_script() + script, cwd=self.folder, env=self.secrets)

    def query(self, sql: str, *args: object) -> list[tuple]:
        with psycopg.connect(self.database_url, connect_timeout=5) as db:
            cursor = db.execute(sql, args)
            return cursor.fetchall() if cursor.description else []

    def done(self) -> int:
        return self.query("SELECT count(*) FROM imports")[0][0]

    def log(self, host: Host, name: str, *, whole: bool = False) -> str:
        """The log of ``name`` on ``host``: its end, or all of it."""
        path = host.home / f"{name}.log"
        text = path.read_text() if path.is_file() else ""
        return text if whole else text[-3000:]

    def close(self) -> None:
        if hasattr(self, "feeds"):
            self.feeds.close()
        self.lan.close()  # With every host on it.


def one_broker_host(machines: Hosts) -> None:
    """Scale out's broker: one host, as the page starts it."""
    machines.broker_node("broker", 10, "broker-host")


def rabbitmq_cluster(machines: Hosts) -> None:
    """Three RabbitMQ nodes, each on a host of its own, joined in a cluster."""
    machines.broker_node("rabbit-1", 11, "every-node")
    for number in (12, 13):
        machines.broker_node(f"rabbit-{number - 10}", number, "every-node", "join")
    machines.brokers["rabbit-1"].run_section(machines.folder, "user", machines.secrets)


def redis_sentinel(machines: Hosts) -> None:
    """A primary and its replica, and three Sentinels, on three hosts."""
    machines.broker_node("redis-1", 11, "primary", "sentinel")
    machines.broker_node("redis-2", 12, "replica", "sentinel")
    machines.broker_node("redis-3", 13, "sentinel")


def broker_with_management(machines: Hosts) -> None:
    """Scale out's broker host, with the management API KEDA reads."""
    machines.broker_node("broker", 10, "broker-host", "management")


BROKER_HOSTS = {
    ("hosts", "rabbitmq"): one_broker_host,
    ("hosts", "redis"): one_broker_host,
    ("ha", "rabbitmq"): rabbitmq_cluster,
    ("ha", "redis"): redis_sentinel,
    ("autoscaling", "rabbitmq"): broker_with_management,
    ("autoscaling", "redis"): one_broker_host,
}


def start_postgresql(host: Host, password: str) -> None:
    """A PostgreSQL server on the database host, as the page describes it:
    on the private address, with a password for the app's user, flask_app."""
    # Debian's layout: /usr/lib/postgresql/<version>/bin, the newest.
    pg_bin = (
        Path("/usr/lib/postgresql") / max(os.listdir("/usr/lib/postgresql")) / "bin"
    )
    data = host.home / "pgdata"
    host.home.chmod(0o755)
    host.run(
        f"""
        install -d -o postgres -m 700 {data}
        install -d -o postgres -m 755 /run/postgresql
        runuser -u postgres -- {pg_bin}/initdb --pgdata={data} --username=postgres \
            --auth-local=trust --auth-host=scram-sha-256 > /dev/null
        echo 'host all all {NETWORK}.0/24 scram-sha-256' >> {data}/pg_hba.conf
        runuser -u postgres -- {pg_bin}/pg_ctl --pgdata={data} \
            --log={data}/server.log --wait --silent \
            --options='-c listen_addresses={host.address}' start
        runuser -u postgres -- psql --quiet --host=/run/postgresql \
            --command="CREATE ROLE flask_app LOGIN PASSWORD '{password}'" \
            --command="CREATE DATABASE app OWNER flask_app"
        """
    )


@contextmanager
def hosts(folder: Path) -> Iterator[Hosts]:
    machines = Hosts(folder)
    try:
        yield machines
    finally:
        machines.close()


# The marks of every Scale out test module: nox -s cluster runs them, as root.
CLUSTER = [
    pytest.mark.cluster,
    pytest.mark.skipif(not sandboxes_work(), reason="needs root, unshare and ip"),
]


def machines_fixture(topic: str, *, worker_hosts: int = 0):
    """The fixture "machines": the hosts of ``topic``'s page, once a module
    for each broker, with ``worker_hosts`` worker hosts started."""

    @pytest.fixture(name="machines", scope="module", params=example_params(topic))
    def machines(request: pytest.FixtureRequest) -> Iterator[Hosts]:
        with hosts(request.param) as started:
            for number in WORKERS[:worker_hosts]:
                started.start_worker_host(number)
            yield started

    return machines
