"""The PostgreSQL server the reliability example keeps its records in.

Each test gets a database of its own on the server that ``DATABASE_URL``
names, and drops it afterwards, so tests never see each other's rows, also
when two runs share the server. The URL's user needs CREATEDB.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from support.processes import free_port

# The server's maintenance database, where the tests create and drop theirs:
# this machine's PostgreSQL (trust auth on 127.0.0.1), or a server elsewhere.
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVER_URL = os.environ.get("DATABASE_URL", DEFAULT_URL)
# Every database a test makes starts with this, so a leftover one is easy to find.
PREFIX = "guide_reliability_"


def address(url: str = SERVER_URL) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def with_database(url: str, name: str) -> str:
    """``url``, naming database ``name`` instead of its own."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def with_address(url: str, host: str, port: int) -> str:
    """``url``, on ``host:port`` instead of its own, same user and database."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}:{port}"))


def unreachable_message() -> str:
    host, port = address()
    return (
        f"PostgreSQL is not reachable at {host}:{port} (from DATABASE_URL, default "
        f"{DEFAULT_URL}). Start it with: docker compose up --detach --wait "
        "postgres (or, with Debian's package: pg_ctlcluster "
        "--skip-systemctl-redirect 15 main start)"
    )


def _admin():  # -> psycopg.Connection
    import psycopg

    try:
        return psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise RuntimeError(f"{unreachable_message()}\n{error}") from None


def _drop(admin, name: str) -> None:
    # FORCE: also when a killed worker's connection is still open.
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@contextmanager
def new_database(template: str | None = None) -> Iterator[str]:
    """A new database for one test, empty or a copy of database ``template``;
    its URL. Dropped afterwards."""
    name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"{copy_of}')
        try:
            yield with_database(SERVER_URL, name)
        finally:
            _drop(admin, name)


def _run() -> tuple[str, Path]:
    """This test run's name, and the file of the databases run_database()
    made in it, one per line. One run: pytest and its pytest-xdist test
    processes (tests/conftest.py names it before pytest starts them)."""
    run = os.environ["GUIDE_TEST_RUN"]
    return run, Path(tempfile.gettempdir()) / f"guide-test-run-{run}.txt"


def run_database(key: str, make: Callable[[str], None]) -> str:
    """The database ``key`` of this test run, shared by its test processes;
    its name. The first process that asks makes it with ``make(url)``; the
    others wait until it is made. drop_run_databases() drops it."""
    run, made_in_run = _run()
    name = f"{PREFIX}run_{run}_{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    with _admin() as admin:
        # One process at a time looks for it and makes it. The server's lock
        # goes with the connection; a stuck maker fails the wait in time.
        admin.execute("SET lock_timeout = '90s'")
        admin.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        made = "SELECT 1 FROM pg_database WHERE datname = %s"
        if admin.execute(made, (name,)).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{name}"')
            with made_in_run.open("a") as names:
                print(name, file=names)
            try:
                make(with_database(SERVER_URL, name))
            except BaseException:
                # Half made: the next process that asks makes it again (and
                # fails the same way), rather than copying it.
                _drop(admin, name)
                raise
    return name


def drop_run_databases() -> None:
    """Drop the databases run_database() made in this run, if any."""
    _, made_in_run = _run()
    if not made_in_run.is_file():
        return
    with _admin() as admin:
        for name in made_in_run.read_text().split():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    made_in_run.unlink()


def query(url: str, sql: str) -> list[tuple]:
    """The rows of ``sql`` in the database at ``url``."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as db:
        return db.execute(sql).fetchall()


class Proxy:
    """A TCP proxy to a server, which a test switches off as a fault would.

    ``up``: connections go through. ``refusing``: the port is closed and open
    connections are cut, as when PostgreSQL stops. ``hung``: the kernel
    accepts connections and nothing ever answers, as for a frozen host.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.up()

    def up(self) -> None:
        self._close()
        self.listener = socket.create_server(("127.0.0.1", self.port), backlog=64)
        threading.Thread(
            target=self._accept, args=(self.listener,), daemon=True
        ).start()

    def refusing(self) -> None:
        self._close()

    def hung(self) -> None:
        self._close()
        self.listener = socket.create_server(("127.0.0.1", self.port), backlog=64)

    def close(self) -> None:
        self._close()

    def _close(self) -> None:
        with self.lock:
            doomed = [*self.sockets, *([self.listener] if self.listener else [])]
            self.sockets, self.listener = [], None
        for sock in doomed:
            try:
                # shutdown() wakes a thread blocked in accept() or recv(); close() does not.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # Switched off.
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pipe, args=(source, sink), daemon=True
                ).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
