"""examples/reliability: what each broker guarantees under faults, measured.

Every test runs the example's real worker and gunicorn (the Procfile's
commands) against the real broker, prints the figures the Reliability page
quotes, and fails when the page's promise breaks. Some tests stop and start
the broker: they need it on this machine (rabbitmqctl, redis-server), and
always leave it running as they found it.

Run them with ``nox -s reliability``; they are left out of ``nox -s tests``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from urllib.parse import urlencode

import pytest

from support.brokers import Broker
from support.databases import Proxy, address, new_database, query, with_address
from support.examples import (
    BROKER_UNAVAILABLE,
    Example,
    example_params,
    with_empty_queues,
)
from support.processes import Process, free_port, port_is_open, wait_for

pytestmark = pytest.mark.reliability

QUEUE = "reliability"
WEB_ADDRESS = "127.0.0.1:8000"  # where the Procfile's gunicorn listens
# The example's Redis heartbeat_timeout, in seconds.
HEARTBEAT_TIMEOUT_S = 10
# How long the broker restart test keeps the broker down, in seconds.
OUTAGE_S = 5


@pytest.fixture(params=example_params("reliability"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))
    if request.param.name == "redis":
        forget_redis_acks(Example(request.param).broker)


@pytest.fixture(params=[p for p in example_params("reliability") if p.id == "redis"])
def redis_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))
    forget_redis_acks(Example(request.param).broker)


@pytest.fixture
def database(example: Example) -> Iterator[str]:
    """A database of this test's own, with the tables the guide's command creates."""
    try:
        with new_database() as url:
            output = guide_commands(example, "create-tables", {"DATABASE_URL": url})
            assert output == "The tables are ready.\n"
            yield url
    except RuntimeError as error:  # PostgreSQL is not reachable.
        pytest.fail(str(error), pytrace=False)


def forget_redis_acks(broker: Broker) -> None:
    """Delete the workers' lists of unacknowledged messages of this test's queue."""
    import redis

    client = redis.Redis.from_url(broker.url)
    for pattern in (f"dramatiq:__acks__.*.{QUEUE}", f"dramatiq:__acks__.*.{QUEUE}.DQ"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)


# -- The example's processes ------------------------------------------------


@dataclass
class Folder:
    """The example's settings for one test: its own uploads folder and database."""

    tmp_path: Path
    database_url: str
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.uploads.mkdir(exist_ok=True)
        self.env = {
            "UPLOADS_DIR": str(self.uploads),
            "DATABASE_URL": self.database_url,
            # gunicorn puts its control socket there: keep it in the test's folder.
            "XDG_RUNTIME_DIR": str(self.tmp_path),
            **self.env,
        }

    @property
    def uploads(self) -> Path:
        return self.tmp_path / "uploads"

    def done(self) -> set[str]:
        """The import ids in the example's record of done imports."""
        return {import_id for (import_id,) in self.query("SELECT import_id FROM done")}

    def rows(self) -> Counter[str]:
        """How many rows the example's database holds for each import id."""
        query = "SELECT import_id, COUNT(*) FROM imported_rows GROUP BY import_id"
        return Counter(dict(self.query(query)))

    def query(self, sql: str) -> list[tuple]:
        """The rows of ``sql`` in the test's database."""
        return query(self.database_url, sql)


def start(
    example: Example,
    process_type: str,
    folder: Folder,
    log_name: str,
    options: str = "",
) -> Process:
    """The Procfile's command for ``process_type``, plus ``options``; gunicorn on a free port."""
    command = f"{example.procfile_command(process_type)} {options}".strip()
    if process_type == "web":
        assert WEB_ADDRESS in command, "the Procfile's web line binds 127.0.0.1:8000"
        folder.env["PORT"] = str(free_port())
        command = command.replace(WEB_ADDRESS, f"127.0.0.1:{folder.env['PORT']}")
    return Process(
        command,
        cwd=example.path,
        env={example.broker.url_variable: example.broker.url, **folder.env},
        log=folder.tmp_path / f"{log_name}.log",
    )


def stop(worker: Process) -> int:
    """SIGTERM the worker once it handles signals; its exit code."""
    # One line per worker process, and --processes defaults to the CPU count.
    watch(
        [worker],
        lambda: worker.output().count("is ready for action") >= os.cpu_count(),
        timeout=30,
        what="every worker process to be ready",
    )
    return worker.terminate(timeout=30)


def started(pattern: str, output: str) -> Counter[str]:
    """How many times each import logged ``Import <id>: <pattern>``."""
    return Counter(re.findall(rf"Import (\S+): {pattern}", output))


def runs(output: str) -> Counter[str]:
    """How many times each import started its work (skipped copies excluded)."""
    return started("importing", output)


def imported(output: str) -> Counter[str]:
    return started("imported", output)


def skipped(output: str) -> Counter[str]:
    return Counter(re.findall(r"Import (\S+) was done before", output))


def watch(
    processes: list[Process],
    condition: Callable[[], object],
    *,
    timeout: float,
    what: str,
) -> None:
    """wait_for(), but a timeout shows what the processes logged."""
    try:
        wait_for(condition, timeout=timeout, what=what)
    except AssertionError as error:
        logs = "\n".join(f"--- {p.command}\n{p.output()[-4000:]}" for p in processes)
        raise AssertionError(f"{error}. Output:\n{logs}") from None


def send(example: Example, monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    """Queue import_file(*args) from this process, as another producer would."""
    example.load("tasks", monkeypatch).import_file.send(*args)


class HeldFile:
    """A named pipe in the uploads folder: importing it lasts until the test feeds it."""

    def __init__(self, folder: Folder, name: str) -> None:
        self.path = folder.uploads / name
        os.mkfifo(self.path)

    def feed(self, rows: str, *, timeout: float) -> None:
        """Write ``rows`` once an import opens the pipe, then close it: the import ends."""
        fd = None

        def reader_is_there() -> bool:
            nonlocal fd
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no import has opened the pipe yet.
                return False
            return True

        wait_for(reader_is_there, timeout=timeout, what=f"an import of {self.path}")
        try:
            os.set_blocking(fd, True)
            os.write(fd, rows.encode())
        finally:
            os.close(fd)


# -- HTTP clients ---------------------------------------------------------------


@dataclass
class Answer:
    key: str
    status: int
    body: str
    seconds: float
    at: float


class Client:
    """One HTTP/1.1 keep-alive connection to gunicorn, like a browser's or an API client's.

    A dropped connection is retried with the same Idempotency-Key, as the page
    tells API clients to do.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, key: str, name: str) -> Answer:
        body = urlencode({"name": name})
        headers = {
            "Idempotency-Key": key,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        for attempt in range(3):
            began = time.monotonic()
            try:
                self.connection.request("POST", "/imports", body, headers)
                response = self.connection.getresponse()
                text = response.read().decode()
            except (OSError, http.client.HTTPException):
                self.connection.close()
                if attempt == 2:
                    raise
                continue
            now = time.monotonic()
            return Answer(key, response.status, text, now - began, now)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def post_all(port: int, keys: list[str], name: str, clients: int) -> list[Answer]:
    """POST every key once, spread over ``clients`` concurrent connections."""
    answers: list[Answer] = []
    errors: list[BaseException] = []

    def run(share: list[str]) -> None:
        client = Client(port)
        try:
            answers.extend(client.post(key, name) for key in share)
        except (OSError, http.client.HTTPException) as error:  # Reported below.
            errors.append(error)
        finally:
            client.close()

    threads = [
        threading.Thread(target=run, args=(keys[i::clients],)) for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    return answers


class Traffic:
    """Clients that POST new imports without pause until stopped."""

    def __init__(self, port: int, name: str, clients: int) -> None:
        self.answers: list[Answer] = []
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.run, args=(port, name, n))
            for n in range(clients)
        ]

    def run(self, port: int, name: str, n: int) -> None:
        client = Client(port)
        try:
            while not self.stopping.is_set():
                self.answers.append(client.post(f"t{n}-{uuid.uuid4().hex}", name))
        except (OSError, http.client.HTTPException) as error:  # Reported later.
            self.errors.append(error)
        finally:
            client.close()

    def since(self, moment: float, status: int) -> list[Answer]:
        return [a for a in list(self.answers) if a.at > moment and a.status == status]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)


# -- Stopping and starting the broker --------------------------------------------


class Control:
    """Stop and start the example's broker, on this machine, as its admin would."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        host, port = broker.address
        tool = "rabbitmqctl" if broker.name == "rabbitmq" else "redis-server"
        if host not in ("127.0.0.1", "localhost", "::1"):
            pytest.fail(
                f"This test stops and starts {broker.label}, so it must run on the "
                f"broker's machine; {broker.url_variable} points at {host}:{port}.",
                pytrace=False,
            )
        if not shutil.which(tool):
            pytest.fail(
                f"This test stops and starts {broker.label} with {tool}, which is "
                f"not on this machine's PATH.",
                pytrace=False,
            )
        self.redis_config: dict[str, str] = {}
        if broker.name == "redis":
            self.redis_config = self.client().config_get("*")

    def client(self):
        import redis

        return redis.Redis.from_url(self.broker.url)

    def stop(self) -> None:
        if self.broker.name == "rabbitmq":
            # The node stays up; the AMQP application and its port stop.
            run("rabbitmqctl", "stop_app")
        else:
            self.client().shutdown(nosave=True)
        wait_for(
            lambda: not self.broker.is_reachable(timeout=0.2),
            timeout=30,
            what=f"{self.broker.label} to stop",
        )

    def start(self, **redis_settings: str) -> None:
        """Start the broker; Redis with its configuration, ``redis_settings`` on top."""
        if self.broker.name == "rabbitmq":
            run("rabbitmqctl", "start_app")
            run("rabbitmqctl", "await_startup")
        else:
            config = {**self.redis_config, **redis_settings}
            # The settings a restart needs to come back the same, and to find
            # its data files.
            names = [
                "port", "bind", "dir", "logfile", "save", "appendonly",
                "appendfsync", "appenddirname", "dbfilename", "databases",
            ]  # fmt: skip
            arguments = ["--daemonize", "yes"]
            for name in names:
                arguments += [f"--{name}", *(config[name].split() or [""])]
            run("redis-server", *arguments)
        wait_for(
            self.broker.is_reachable, timeout=60, what=f"{self.broker.label} to start"
        )
        if self.broker.name == "redis":
            wait_for(self.redis_ready, timeout=60, what="Redis to load its data")

    def redis_ready(self) -> bool:
        import redis

        try:
            return self.client().info("persistence")["loading"] == 0
        except redis.exceptions.BusyLoadingError:
            return False

    def ensure_running(self) -> None:
        """Start the broker again if a test left it stopped."""
        if not self.broker.is_reachable():
            self.start()

    @contextmanager
    def down(self) -> Iterator[None]:
        """Stop the broker for the ``with`` block; it runs again after it, always."""
        try:
            self.stop()
            yield
        finally:
            self.ensure_running()


def run(*command: str) -> str:
    """Run an admin command; its output."""
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{shlex.join(command)}: {result.stderr}"
    return result.stdout


def redis_settings_of_the_guide(example: Example) -> dict[str, str]:
    """The redis-server options of the guide's start command, e.g. appendonly=yes."""
    command = " ".join(line.rstrip("\\") for line in example.commands("start-broker"))
    options = shlex.split(command.partition(" redis-server ")[2])
    assert options, "the guide starts Redis with redis-server options"
    return {
        name.removeprefix("--"): value
        for name, value in zip(options[::2], options[1::2], strict=True)
    }


@contextmanager
def persistence(example: Example, control: Control) -> Iterator[dict[str, str]]:
    """The broker as the guide sets it up: Redis with the append-only file.

    RabbitMQ needs nothing: Dramatiq's queues are durable and its messages
    persistent. For Redis, the test turns on what the guide's start command
    does, then restores the configuration it found, and deletes the
    append-only files it made.
    """
    if example.broker.name == "rabbitmq":
        yield {}
        return
    settings = redis_settings_of_the_guide(example)
    client = control.client()
    before = {name: control.redis_config[name] for name in settings}
    config = control.redis_config
    aof_dir = Path(config["dir"]) / config["appenddirname"]
    aof_existed = aof_dir.exists()
    for name, value in settings.items():
        client.config_set(name, value)
    try:
        if settings.get("appendonly") == "yes":
            # Turning it on writes the whole data set to a new file first.
            wait_for(
                lambda: aof_written(client),
                timeout=60,
                what="Redis's append-only file",
            )
        yield settings
    finally:
        if not example.broker.is_reachable():
            control.start(**settings)
        for name, value in before.items():
            client.config_set(name, value)
        if not aof_existed:
            shutil.rmtree(aof_dir, ignore_errors=True)


def aof_written(client) -> bool:
    info = client.info("persistence")
    return (
        info["aof_enabled"] == 1
        and info["aof_rewrite_in_progress"] == 0
        and info["aof_rewrite_scheduled"] == 0
    )


# -- The guide's requests ---------------------------------------------------------


def guide_script(example: Example, section: str, port: int, cwd: Path) -> str:
    """Run the guide's commands of ``section`` against gunicorn on ``port``; stdout."""
    script = "\n".join(["set -e", *example.commands(section)])
    assert f"http://{WEB_ADDRESS}/imports" in script
    return subprocess.run(
        ["bash", "-c", script.replace(WEB_ADDRESS, f"127.0.0.1:{port}")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def test_the_guides_request_sent_twice_imports_the_file_once(
    example: Example, tmp_path: Path, database: str
) -> None:
    folder = Folder(tmp_path, database)
    worker = start(example, "worker", folder, "worker")
    web = start(example, "web", folder, "web")
    port = int(folder.env["PORT"])
    try:
        watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
        # The script writes uploads/orders.csv in tmp_path, the uploads folder.
        answers = [guide_script(example, "request", port, tmp_path) for _ in range(2)]
        watch(
            [worker],
            lambda: skipped(worker.output())["5b7e0c2a"],
            timeout=20,
            what="the second copy to be skipped",
        )
        assert stop(worker) == 0
    finally:
        web.kill_group()
        worker.kill_group()

    assert [json.loads(answer) for answer in answers] == [{"import_id": "5b7e0c2a"}] * 2
    assert imported(worker.output()) == {"5b7e0c2a": 1}
    assert "Import 5b7e0c2a: imported 2 rows from orders.csv." in worker.output()
    assert folder.rows() == {"5b7e0c2a": 2}


def test_two_copies_running_at_once_import_the_file_once(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both copies pass the is_done() check; the transaction lets one import.

    The test inserts the import's done mark in a transaction it leaves open
    until both copies have read the file: both pass is_done(), which cannot
    see an uncommitted row, and wait at mark_done() on that row. Then the
    test rolls back: one copy inserts the mark, and the other waits for that
    copy's commit and writes nothing. A check-then-record actor would import
    twice here.
    """
    import psycopg

    folder = Folder(tmp_path, database)
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    import_id = f"twin-{uuid.uuid4().hex}"
    worker = start(example, "worker", folder, "worker")
    holder = psycopg.connect(database)  # Not autocommit: the INSERT stays open.
    try:
        holder.execute("INSERT INTO done (import_id) VALUES (%s)", (import_id,))
        for _ in range(2):
            send(example, monkeypatch, import_id, "orders.csv")
        watch(
            [worker],
            lambda: runs(worker.output())[import_id] == 2,
            timeout=30,
            what="both copies to read the file",
        )
        holder.rollback()
        watch(
            [worker],
            lambda: skipped(worker.output())[import_id] == 1,
            timeout=30,
            what="the second copy to be skipped",
        )
        assert stop(worker) == 0
    finally:
        holder.close()
        worker.kill_group()

    assert imported(worker.output()) == {import_id: 1}
    assert not failures(worker.output()), "a copy timed out waiting at mark_done()"
    assert folder.rows() == {import_id: 2}
    assert example.broker.pending(QUEUE) == 0


def test_a_key_reused_for_another_file_answers_422_and_queues_nothing(
    example: Example, tmp_path: Path, database: str
) -> None:
    folder = Folder(tmp_path, database)
    web = start(example, "web", folder, "web")
    port = int(folder.env["PORT"])
    client = Client(port)
    try:
        watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
        accepted = guide_script(example, "request", port, tmp_path)
        refused = guide_script(example, "reuse-key", port, tmp_path)
        # The same key, sent again for each file: only the first file's passes.
        statuses = [
            client.post("5b7e0c2a", name).status
            for name in ("prices.csv", "orders.csv", "prices.csv")
        ]
    finally:
        client.close()
        web.kill_group()

    print(
        f"\n[{example.broker.label}] key 5b7e0c2a reused for another file: "
        f"{refused.strip()}"
    )
    assert json.loads(accepted) == {"import_id": "5b7e0c2a"}
    assert json.loads(refused) == {
        "error": "Idempotency-Key '5b7e0c2a' was used for another file."
    }
    assert statuses == [422, 202, 422]
    # The guide's request and its repeat; the worker would skip the repeat.
    assert example.broker.pending(QUEUE) == 2


# -- The guide's PostgreSQL, without Docker -------------------------------------


def test_the_guides_local_postgresql_takes_the_examples_tables(
    example: Example,
) -> None:
    """The page's no-Docker commands start a PostgreSQL on 127.0.0.1 that the
    example's create-tables command fills, on a free port (PGPORT) instead of
    5432. initdb refuses to run as root: as root, the test runs them as the
    postgres user."""
    bindir = pg_bindir()
    if bindir is None or (os.geteuid() == 0 and not has_user("postgres")):
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL's initdb, and a postgres user as root")
        pytest.skip("needs PostgreSQL's initdb (and, as root, a postgres user)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="guide-pgdata-"))
    if as_user:
        shutil.chown(folder, "postgres")
    port = free_port()
    env = ["env", f"PATH={bindir}:{os.environ['PATH']}", f"PGPORT={port}"]
    script = "\n".join(["set -e", *example.commands("start-database-locally")])
    try:
        started = subprocess.run(
            [*as_user, *env, "bash", "-c", script],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        output = guide_commands(example, "create-tables", {"DATABASE_URL": url})
        tables = query(
            url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    finally:
        subprocess.run(
            [*as_user, *env, "pg_ctl", "--pgdata=pgdata", "--mode=immediate", "stop"],
            cwd=folder,
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)

    assert output == "The tables are ready.\n"
    assert {name for (name,) in tables} == {"done", "imported_rows", "import_keys"}
    # Listening on 127.0.0.1 only, and on no Unix socket.
    assert "listen_addresses=127.0.0.1" in script


def pg_bindir() -> str | None:
    """The folder of PostgreSQL's server programs, such as initdb, if installed."""
    if shutil.which("initdb"):
        return str(Path(shutil.which("initdb")).parent)
    if shutil.which("pg_config"):
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if (Path(bindir) / "initdb").exists():
            return bindir
    return None


def has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# -- PostgreSQL is down or hung ------------------------------------------------


DATABASE_UNAVAILABLE = {"error": "The database is unavailable. Try again later."}


def test_a_database_that_is_down_or_hung_answers_503_and_the_import_is_retried(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app and the worker reach PostgreSQL through a proxy the test switches off.

    Refused: PostgreSQL stopped. Hung: connections open and nothing answers,
    as with a frozen host, so only the example's connect_timeout (5 s) ends
    the wait. The app answers 503 either way; the worker's import fails, and
    Dramatiq retries it until PostgreSQL is back.
    """
    proxy = Proxy(address(database))
    folder = Folder(
        tmp_path,
        database,
        env={
            "DATABASE_URL": with_address(database, "127.0.0.1", proxy.port),
            # Retry within a second, so the test sees several retries.
            "IMPORT_MIN_BACKOFF_MS": "100",
            "IMPORT_MAX_BACKOFF_MS": "1000",
        },
    )
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    import_id = f"outage-{uuid.uuid4().hex}"
    worker = start(example, "worker", folder, "worker")
    web = start(example, "web", folder, "web")
    port = int(folder.env["PORT"])
    client = Client(port)
    try:
        watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
        # The port opens before gunicorn's worker has loaded the app: wait for
        # an answer (400, no file name) so the timings below are the database's.
        assert client.post(import_id, "").status == 400
        proxy.refusing()
        refused = client.post(import_id, "orders.csv")
        proxy.hung()
        hung = client.post(import_id, "orders.csv")
        proxy.refusing()
        send(example, monkeypatch, import_id, "orders.csv")
        watch(
            [worker],
            lambda: failures(worker.output())[import_id] >= 2,
            timeout=30,
            what="the import to fail and be retried",
        )
        proxy.up()
        # The client retries its request, with the same key: the message it
        # queues and the import's retry run once between them.
        back = client.post(import_id, "orders.csv")
        watch(
            [worker],
            lambda: (
                imported(worker.output())[import_id] == 1
                and skipped(worker.output())[import_id] == 1
            ),
            timeout=30,
            what="the file imported once PostgreSQL is back, and the copy skipped",
        )
        assert stop(worker) == 0
    finally:
        client.close()
        web.kill_group()
        worker.kill_group()
        proxy.close()

    failed = failures(worker.output())[import_id]
    print(
        f"\n[{example.broker.label}] PostgreSQL refusing: 503 after "
        f"{refused.seconds * 1000:.0f} ms; hung: 503 after {hung.seconds:.1f} s; "
        f"the import failed {failed} times while it was down, then its retry "
        "imported the file"
    )
    for answer in (refused, hung):
        assert answer.status == 503
        assert answer.body.count("\n") <= 1  # One line of JSON.
        assert json.loads(answer.body) == DATABASE_UNAVAILABLE
    assert refused.seconds < 1
    assert 4 < hung.seconds < 8, "connect_timeout=5 bounds the wait"
    assert "Traceback" not in web.output()
    assert "psycopg.OperationalError" in worker.output()
    assert back.status == 202
    assert folder.done() == {import_id}
    assert folder.rows() == {import_id: 2}


@contextmanager
def full(broker: Broker) -> Iterator[None]:
    """Fill the broker up, as far as publishers can tell.

    RabbitMQ: raise its free-disk alarm, which blocks every publisher. Redis:
    a maxmemory below what it uses, so with noeviction it refuses writes.
    """
    if broker.name == "rabbitmq":
        query = "rabbit_disk_monitor:get_disk_free_limit()."
        limit = run("rabbitmqctl", "eval", query).strip()
        run("rabbitmqctl", "set_disk_free_limit", "1000000GB")
        try:
            yield
        finally:
            run("rabbitmqctl", "set_disk_free_limit", limit)
            wait_for(
                lambda: (
                    "alarm"
                    not in run("rabbitmqctl", "eval", "rabbit_alarm:get_alarms().")
                ),
                timeout=30,
                what="the disk alarm to clear",
            )
        return
    import redis

    client = redis.Redis.from_url(broker.url)
    saved = client.config_get("maxmemory", "maxmemory-policy")
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", 1)
    try:
        yield
    finally:
        client.config_set("maxmemory", saved["maxmemory"])
        client.config_set("maxmemory-policy", saved["maxmemory-policy"])


def test_a_full_broker_answers_503_then_recovers(
    example: Example, tmp_path: Path, database: str
) -> None:
    """The Configure page: RabbitMQ blocks publishers, Redis refuses writes.

    On RabbitMQ, the URL's blocked_connection_timeout bounds the wait: without
    it, pika waits for the alarm to clear with no time limit, and so does the
    request.
    """
    url = example.broker.url
    if example.broker.name == "rabbitmq":
        url += "?blocked_connection_timeout=1"
    folder = Folder(tmp_path, database, env={example.broker.url_variable: url})
    web = start(example, "web", folder, "web")
    port = int(folder.env["PORT"])
    client = Client(port)
    try:
        watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
        with full(example.broker):
            refused = client.post(f"full-{uuid.uuid4().hex}", "orders.csv")
        after = client.post(f"after-{uuid.uuid4().hex}", "orders.csv")
    finally:
        client.close()
        web.kill_group()

    stored = example.broker.pending(QUEUE) - 1  # Copies of the refused request.
    print(
        f"\n[{example.broker.label}] full broker: {refused.status} after "
        f"{refused.seconds:.1f} s, {stored} copies stored once it had room; "
        f"then {after.status}"
    )
    assert (refused.status, json.loads(refused.body)) == (503, BROKER_UNAVAILABLE)
    assert after.status == 202
    if example.broker.name == "rabbitmq":
        # Dramatiq tries the send 6 times, each blocked for 1 s. RabbitMQ had
        # read each blocked message, and stores it once the alarm clears.
        assert 5 < refused.seconds < 15
        assert "Blocked connection timeout" in web.output()
        # A 503 does not mean that nothing was queued.
        assert 1 <= stored <= 6
    else:
        assert refused.seconds < 1
        assert "maxmemory" in web.output()
        assert stored == 0


def finish_on_a_second_worker(
    example: Example, folder: Folder, held: HeldFile, import_id: str
) -> tuple[Process, float]:
    """Start a second worker, wait for it to run the lost import again, then
    feed the held file so the import finishes, and stop the worker.

    Returns the stopped worker and the time (monotonic) it began the import.
    """
    second = start(example, "worker", folder, "worker-2")
    try:
        watch(
            [second],
            lambda: runs(second.output())[import_id],
            timeout=HEARTBEAT_TIMEOUT_S + 30,
            what="the import to run again",
        )
        ran_again = time.monotonic()
        held.feed("sku,quantity\nA-1,3\n", timeout=10)
        watch(
            [second],
            lambda: imported(second.output())[import_id],
            timeout=10,
            what="the import to finish",
        )
        assert stop(second) == 0
    finally:
        second.kill_group()
    return second, ran_again


# -- 1. A worker crashes in the middle of an import -------------------------------------


def test_import_of_a_killed_worker_runs_again_on_a_new_worker(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Folder(tmp_path, database)
    held = HeldFile(folder, "held.csv")
    import_id = f"crash-{uuid.uuid4().hex}"
    first = start(example, "worker", folder, "worker-1")
    try:
        send(example, monkeypatch, import_id, "held.csv")
        watch(
            [first],
            lambda: runs(first.output())[import_id],
            timeout=30,
            what="the import",
        )

        # SIGKILL the whole group: a crash, an OOM kill or a pulled plug.
        os.killpg(first.popen.pid, signal.SIGKILL)
        first.popen.wait(10)
        killed = time.monotonic()
        second, ran_again = finish_on_a_second_worker(example, folder, held, import_id)
        redelivery = ran_again - killed
    finally:
        first.kill_group()

    print(
        f"\n[{example.broker.label}] worker killed -> import running on a new worker: "
        f"{redelivery:.1f} s"
    )
    assert imported(first.output())[import_id] == 0
    assert imported(second.output())[import_id] == 1
    assert folder.done() == {import_id}
    assert example.broker.pending(QUEUE) == 0
    if example.broker.name == "rabbitmq":
        # RabbitMQ requeues at once; the new worker's start-up takes the time.
        assert redelivery < 10
    else:
        # Redis waits until the dead worker's heartbeat is HEARTBEAT_TIMEOUT_S old.
        assert HEARTBEAT_TIMEOUT_S - 2 < redelivery < HEARTBEAT_TIMEOUT_S + 10


# -- 4. SIGTERM: the worker finishes its import and exits ------------------------------


def test_sigterm_lets_the_running_import_finish_and_requeues_nothing_twice(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Folder(tmp_path, database)
    held = HeldFile(folder, "held.csv")
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    running, later = f"running-{uuid.uuid4().hex}", f"later-{uuid.uuid4().hex}"
    first = start(example, "worker", folder, "worker-1")
    second = None
    try:
        send(example, monkeypatch, running, "held.csv")
        watch(
            [first],
            lambda: runs(first.output())[running],
            timeout=30,
            what="the import",
        )

        first.popen.send_signal(signal.SIGTERM)
        began = time.monotonic()
        watch(
            [first],
            lambda: "Shutting down..." in first.output(),
            timeout=10,
            what="the worker to start shutting down",
        )
        # Sent during the shutdown: the stopping worker must not lose it.
        send(example, monkeypatch, later, "orders.csv")
        # The import lasts 3 s more; the worker must wait for it all along.
        held_until = time.monotonic() + 3
        while time.monotonic() < held_until:
            assert first.popen.poll() is None, (
                "the worker quit before its import was done"
            )
            time.sleep(0.05)

        held.feed("sku,quantity\nA-1,3\n", timeout=10)
        exit_code = first.popen.wait(30)
        shutdown = time.monotonic() - began
        second = start(example, "worker", folder, "worker-2")
        watch(
            [first, second],
            lambda: folder.done() == {running, later},
            timeout=30,
            what="both imports to be done",
        )
        assert stop(second) == 0
    finally:
        first.kill_group()
        if second:
            second.kill_group()

    both = first.output() + second.output()
    print(
        f"\n[{example.broker.label}] SIGTERM -> exit {exit_code} after "
        f"{shutdown:.1f} s (the running import finished first); the import sent during "
        f"the shutdown ran on the "
        f"{'stopping' if runs(first.output())[later] else 'next'} worker"
    )
    assert exit_code == 0
    assert imported(first.output())[running] == 1
    assert runs(both) == {running: 1, later: 1}, "an import ran twice, or never"
    assert example.broker.pending(QUEUE) == 0


def test_a_shutdown_timeout_below_the_import_cuts_it_off_and_exits_0(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Folder(tmp_path, database)
    held = HeldFile(folder, "held.csv")
    import_id = f"cut-{uuid.uuid4().hex}"
    # A 1 s shutdown timeout, for an import that lasts until the test feeds it.
    first = start(
        example, "worker", folder, "worker-1", "--worker-shutdown-timeout 1000"
    )
    try:
        send(example, monkeypatch, import_id, "held.csv")
        watch(
            [first],
            lambda: runs(first.output())[import_id],
            timeout=30,
            what="the import",
        )
        first.popen.send_signal(signal.SIGTERM)
        began = time.monotonic()
        exit_code = first.popen.wait(30)
        exited = time.monotonic()
        second, ran_again = finish_on_a_second_worker(example, folder, held, import_id)
        # From the SIGTERM: the worker's heartbeat went on until its exit.
        redelivery = ran_again - began
    finally:
        first.kill_group()

    print(
        f"\n[{example.broker.label}] SIGTERM with a 1 s shutdown timeout -> exit "
        f"{exit_code} after {exited - began:.1f} s, the import cut off; it ran "
        f"again {redelivery:.1f} s after the SIGTERM"
    )
    # The exit code hides the cut-off import: only its second run shows it.
    assert exit_code == 0
    assert exited - began < 10
    assert imported(first.output())[import_id] == 0
    assert imported(second.output())[import_id] == 1
    assert folder.done() == {import_id}
    if example.broker.name == "redis":
        # Redis waits until the stopped worker's heartbeat is HEARTBEAT_TIMEOUT_S old.
        assert HEARTBEAT_TIMEOUT_S < redelivery < HEARTBEAT_TIMEOUT_S + 10
    else:
        # RabbitMQ requeues once the connection closes, at the exit.
        assert redelivery < 10


# -- 5. A poison message: dead letter, list, fix, replay ----------------------------


def test_poison_message_ends_in_the_dead_letters_and_replays_once_fixed(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The example's retry budget, with backoffs of 0.1-0.4 s instead of minutes.
    folder = Folder(
        tmp_path,
        database,
        env={
            "IMPORT_MAX_RETRIES": "2",
            "IMPORT_MIN_BACKOFF_MS": "100",
            "IMPORT_MAX_BACKOFF_MS": "400",
        },
    )
    import_id = f"poison-{uuid.uuid4().hex}"
    worker = start(example, "worker", folder, "worker")
    try:
        sent = time.monotonic()
        send(example, monkeypatch, import_id, "late.csv")
        watch(
            [worker],
            lambda: example.broker.dead(QUEUE) == 1,
            timeout=30,
            what="a dead letter",
        )
        dead_after = time.monotonic() - sent
        assert runs(worker.output())[import_id] == 3, "1 attempt + 2 retries"
        assert example.broker.pending(QUEUE) == 0

        listing = guide_command(example, "list-dead", folder)
        assert f"import_file('{import_id}', 'late.csv') retries=2" in listing
        assert "FileNotFoundError" in listing
        assert listing.endswith(f"1 dead letter(s) in {QUEUE}.\n")
        assert example.broker.dead(QUEUE) == 1, "listing must not remove them"

        # Replayed before the fix: it fails 3 more times, so it got a new budget.
        replayed = guide_command(example, "replay", folder)
        assert replayed == f"Replayed 1 dead letter(s) to {QUEUE}.\n"
        watch(
            [worker],
            lambda: (
                runs(worker.output())[import_id] == 6
                and example.broker.dead(QUEUE) == 1
            ),
            timeout=30,
            what="the replayed message to fail its 3 attempts",
        )

        # The fix: the file arrives. Now the replay imports it.
        (folder.uploads / "late.csv").write_text("sku,quantity\nA-1,3\n")
        guide_command(example, "replay", folder)
        watch(
            [worker],
            lambda: imported(worker.output())[import_id],
            timeout=30,
            what="the replayed import",
        )
        assert stop(worker) == 0
    finally:
        worker.kill_group()

    print(
        f"\n[{example.broker.label}] poison message dead-lettered after "
        f"{dead_after:.1f} s (3 attempts, backoffs 0.1-0.4 s); replayed with a "
        f"new budget, then imported once the file existed"
    )
    assert example.broker.dead(QUEUE) == 0
    assert example.broker.pending(QUEUE) == 0
    assert folder.done() == {import_id}
    assert runs(worker.output())[import_id] == 7


def guide_commands(example: Example, section: str, env: dict[str, str]) -> str:
    """Run the guide's commands of ``section`` in the example folder; their output."""
    script = "\n".join(["set -e", *example.commands(section)])
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=example.path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def guide_command(example: Example, section: str, folder: Folder) -> str:
    """Run the guide's one command of ``section`` in the example folder; its output."""
    [command] = example.commands(section)
    result = subprocess.run(
        shlex.split(command),
        cwd=example.path,
        env={
            **os.environ,
            example.broker.url_variable: example.broker.url,
            **folder.env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- 3. Load: 5,000 POSTs through gunicorn --------------------------------------


def failures(output: str) -> Counter[str]:
    """How many attempts of each import raised, for Dramatiq to retry."""
    pattern = r"Failed to process message import_file\('([^']+)'"
    return Counter(re.findall(pattern, output))


def settled(output: str, retried_keys: list[str]) -> bool:
    """The client's retried keys were skipped, and every failed import's retry ran."""
    done_or_skipped = imported(output) + skipped(output)
    return all(skipped(output)[key] for key in retried_keys) and all(
        done_or_skipped[key] for key in failures(output)
    )


def test_5000_posts_are_processed_exactly_once(
    example: Example, tmp_path: Path, database: str
) -> None:
    # Retry a failed attempt within a second (the page's budget waits 10 s or
    # more), so the test can wait for every retry to end.
    folder = Folder(
        tmp_path,
        database,
        env={"IMPORT_MIN_BACKOFF_MS": "100", "IMPORT_MAX_BACKOFF_MS": "1000"},
    )
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    keys = [f"load-{n}-{uuid.uuid4().hex[:8]}" for n in range(5000)]
    worker = start(example, "worker", folder, "worker")
    web = start(example, "web", folder, "web")
    port = int(folder.env["PORT"])
    try:
        watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
        began = time.monotonic()
        answers = post_all(port, keys, "orders.csv", clients=4)
        enqueued = time.monotonic() - began
        watch(
            [worker],
            lambda: len(folder.done()) == len(keys),
            timeout=120,
            what="5,000 imports done",
        )
        processed = time.monotonic() - began

        # A client that lost its answers retries 50 of them with the same keys.
        retries = post_all(port, keys[:50], "orders.csv", clients=1)
        watch(
            [worker],
            lambda: (
                settled(worker.output(), keys[:50])
                and example.broker.pending(QUEUE) == 0
            ),
            timeout=30,
            what="the 50 retried requests to be skipped, and every retry to end",
        )
        assert stop(worker) == 0
    finally:
        web.kill_group()
        worker.kill_group()

    output = worker.output()
    # An attempt that raised, such as a lock or statement timeout, was
    # retried. Its transaction may or may not have committed, so its retry
    # may import or skip: either way the rows must exist once.
    failed = failures(output)
    clean = [key for key in keys if not failed[key]]
    statuses = Counter(a.status for a in answers + retries)
    print(
        f"\n[{example.broker.label}] 5,000 POSTs, 4 clients: enqueued at "
        f"{len(keys) / enqueued:.0f}/s (median answer "
        f"{median(a.seconds for a in answers) * 1000:.1f} ms), processed at "
        f"{len(keys) / processed:.0f}/s; 50 retried keys skipped by the worker; "
        f"{sum(failed.values())} attempts failed and were retried {dict(failed)}"
    )
    assert statuses == {202: 5050}
    assert folder.done() == set(keys)
    assert folder.rows() == dict.fromkeys(keys, 2), (
        "an import's rows were written twice"
    )
    # Each count reads the whole log once: not once per key, which took minutes.
    commits, starts, skips = imported(output), runs(output), skipped(output)
    assert all(commits[key] <= 1 for key in keys), "an import committed twice"
    assert {key: starts[key] for key in clean} == dict.fromkeys(clean, 1)
    retried = set(keys[:50])
    assert {key: skips[key] for key in clean} == {
        key: int(key in retried) for key in clean
    }
    assert example.broker.dead(QUEUE) == 0
    assert example.broker.pending(QUEUE) == 0


# -- 2. The broker restarts under traffic ------------------------------------------


def test_broker_restart_answers_503_then_recovers_and_loses_no_202(
    example: Example, tmp_path: Path, database: str
) -> None:
    control = Control(example.broker)
    folder = Folder(tmp_path, database)
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    with persistence(example, control) as settings:
        worker = start(example, "worker", folder, "worker")
        web = start(example, "web", folder, "web")
        port = int(folder.env["PORT"])
        try:
            watch([web], lambda: port_is_open(port), timeout=20, what="gunicorn")
            traffic = Traffic(port, "orders.csv", clients=3)
            traffic.start()
            try:
                watch(
                    [web],
                    lambda: len(traffic.since(0, 202)) >= 100,
                    timeout=30,
                    what="100 accepted requests",
                )
                with control.down():
                    stopped = time.monotonic()
                    # Longer than the worker's 3 s delay before it reconnects.
                    watch(
                        [web],
                        lambda: (
                            len(traffic.since(stopped, 503)) >= 30
                            and time.monotonic() > stopped + OUTAGE_S
                        ),
                        timeout=30,
                        what="503 answers while the broker is down",
                    )
                    control.start(**settings)
                    back = time.monotonic()
                watch(
                    [web, worker],
                    lambda: len(traffic.since(back, 202)) >= 100,
                    timeout=60,
                    what="accepted requests after the restart",
                )
            finally:
                traffic.stop()
            answers = list(traffic.answers)
            accepted = {a.key for a in answers if a.status == 202}
            try:
                wait_for(
                    lambda: accepted <= folder.done(),
                    timeout=60,
                    what="every accepted request to be processed",
                )
            except AssertionError:
                lost = len(accepted - folder.done())
                raise AssertionError(
                    f"{lost} of {len(accepted)} requests answered 202 were never "
                    "processed"
                ) from None
            assert worker.popen.poll() is None and web.popen.poll() is None
            assert stop(worker) == 0
        finally:
            web.kill_group()
            worker.kill_group()

    refused = [a for a in answers if a.status == 503]
    first_202 = min(a.at for a in answers if a.status == 202 and a.at > back)
    done = folder.done()
    output = worker.output()
    print(
        f"\n[{example.broker.label}] restart under traffic, broker down "
        f"{back - stopped:.1f} s: {len(answers)} requests, "
        f"{len(accepted)} x 202, {len(refused)} x 503 (median "
        f"{median(a.seconds for a in refused) * 1000:.0f} ms, max "
        f"{max(a.seconds for a in refused) * 1000:.0f} ms); first 202 "
        f"{first_202 - back:.1f} s after the broker was back; {len(accepted)} of "
        f"{len(accepted)} accepted imports processed, plus "
        f"{len(done - accepted)} answered 503 but queued; "
        f"{sum(skipped(output).values())} redelivered copies skipped, "
        f"{sum(runs(output).values()) - len(done)} of them after they "
        "had started"
    )
    assert traffic.errors == []
    assert "Traceback" not in web.output()
    assert Counter(a.status for a in answers).keys() <= {202, 503}
    assert all(json.loads(a.body) == BROKER_UNAVAILABLE for a in refused)
    assert accepted <= done
    # A copy redelivered while its first run was still going starts too; it
    # then finds the done mark at mark_done() and writes nothing. So count
    # commits and rows, not starts.
    assert imported(output).most_common(1)[0][1] == 1, "an import committed twice"
    assert folder.rows() == dict.fromkeys(done, 2), (
        "an import's rows were written twice"
    )


# -- What a restart keeps: RabbitMQ always, Redis with appendonly only -----------


def test_queued_messages_survive_a_broker_restart(
    example: Example, tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = Control(example.broker)
    folder = Folder(tmp_path, database)
    (folder.uploads / "orders.csv").write_text("sku,quantity\nA-1,3\n")
    keys = [f"kept-{n}-{uuid.uuid4().hex[:8]}" for n in range(100)]
    with persistence(example, control) as settings:
        import_file = example.load("tasks", monkeypatch).import_file
        for key in keys:
            import_file.send(key, "orders.csv")
        with control.down():
            control.start(**settings)
        kept = example.broker.pending(QUEUE)
        print(
            f"\n[{example.broker.label}] restart with 100 queued messages"
            f"{''.join(f' ({k} {v})' for k, v in settings.items())}: {kept} kept"
        )
        assert kept == 100

        worker = start(example, "worker", folder, "worker")
        try:
            watch(
                [worker],
                lambda: folder.done() == set(keys),
                timeout=60,
                what="the 100 queued imports",
            )
        finally:
            worker.kill_group()


def test_redis_crash_without_appendonly_loses_the_messages_since_its_last_snapshot(
    redis_example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = Control(redis_example.broker)
    import_file = redis_example.load("tasks", monkeypatch).import_file
    for n in range(100):
        import_file.send(f"lost-{n}", "orders.csv")
    assert redis_example.broker.pending(QUEUE) == 100
    # No snapshot since the messages were queued, and no append-only file:
    # SHUTDOWN NOSAVE then loses what a crash loses.
    no_persistence = {"appendonly": "no", "save": ""}
    try:
        with control.down():
            control.start(**no_persistence)
        kept = redis_example.broker.pending(QUEUE)
    finally:
        if any(control.redis_config[k] != v for k, v in no_persistence.items()):
            # Start again as found, so Redis has its own persistence back.
            control.stop()
            control.start()

    print(
        "\n[Redis] crash with 100 queued messages, no snapshot since, "
        f"appendonly no: {kept} kept"
    )
    assert kept == 0
