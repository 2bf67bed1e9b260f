"""What the tests of examples/reliability share (docs/reliability.rst).

Every test runs the example's real worker and gunicorn (the Procfile's
commands) against the real broker, prints the figures the Reliability page
quotes, records them for the page (support/figures.py, under ``nox -s
reliability``), and fails when the page's promise breaks. Some tests stop
and start the broker: they need it on this machine (rabbitmqctl,
redis-server), and always leave it running as they found it. Every test module carries the
``reliability`` mark: run them with ``nox -s reliability``; they are left
out of ``nox -s tests``.

A test module imports a fixture by its function's name, fixture_example for
the fixture ``example``: a test's parameter named like the import would
shadow it (ruff's F811). It imports fixture_example too where it uses
``database``, which asks for ``example``.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

from support.brokers import Broker
from support.databases import new_database, query
from support.examples import Example, example_params, with_empty_queues
from support.processes import Process, free_port, wait_for

QUEUE = "reliability"
WEB_ADDRESS = "127.0.0.1:8000"  # where the Procfile's gunicorn listens
# The example's Redis heartbeat_timeout, in seconds.
HEARTBEAT_TIMEOUT_S = 10


@pytest.fixture(name="example", params=example_params("reliability"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))
    if request.param.name == "redis":
        forget_redis_acks(Example(request.param).broker)


@pytest.fixture(name="database")
def fixture_database(example: Example) -> Iterator[str]:
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


# -- The example's processes ---------------------------------------------------


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


def stop_worker(worker: Process) -> int:
    """SIGTERM the worker once it handles signals; its exit code."""
    # One line per worker process, and --processes defaults to the CPU count.
    watch(
        [worker],
        lambda: worker.output().count("is ready for action") >= os.cpu_count(),
        timeout=30,
        what="every worker process to be ready",
    )
    return worker.terminate(timeout=30)


def times_logged(pattern: str, output: str) -> Counter[str]:
    """How many times each import logged ``Import <id>: <pattern>``."""
    return Counter(re.findall(rf"Import (\S+): {pattern}", output))


def runs(output: str) -> Counter[str]:
    """How many times each import started its work (skipped copies excluded)."""
    return times_logged("importing", output)


def imported(output: str) -> Counter[str]:
    return times_logged("imported", output)


def skipped(output: str) -> Counter[str]:
    return Counter(re.findall(r"Import (\S+) was done before", output))


def failures(output: str) -> Counter[str]:
    """How many attempts of each import raised, for Dramatiq to retry."""
    pattern = r"Failed to process message import_file\('([^']+)'"
    return Counter(re.findall(pattern, output))


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
        assert stop_worker(second) == 0
    finally:
        second.kill_group()
    return second, ran_again


# -- HTTP clients --------------------------------------------------------------


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


# -- The guide's commands ------------------------------------------------------


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
