"""The benchmark behind docs/performance.rst: run it with ``nox -s bench``.

Not a test (pytest does not collect it). One run measures, for RabbitMQ and
Redis side by side, with the example in ``examples/performance/<broker>``:

1. request latency: the view that sends the e-mail in the request, against a
   local SMTP server that takes 500 ms, vs the view that enqueues it, over
   real HTTP on 127.0.0.1;
2. enqueue cost: ``actor.send()`` vs a raw publish with the same client
   library (pika ``basic_publish`` with and without publisher confirms;
   redis-py ``LPUSH``) vs Celery's ``delay()``, interleaved in one process;
3. pickup latency: send -> done on an idle worker, with Dramatiq's defaults
   and with the guide's settings (and, on Redis, other poll caps and what
   each costs while idle);
4. throughput: messages/s of one worker for a no-op and an I/O-bound actor,
   for a few ``--processes`` x ``--threads``.

The actors tell the benchmark they are done with one UDP datagram to
127.0.0.1, so "done" is seen without asking the broker. Everything runs on
this machine: real brokers (RABBITMQ_URL, REDIS_URL), real ``dramatiq`` and
``gunicorn`` processes started from the example's Procfile.

It writes results.json, one CSV per table and results.svg into
docs/_static/performance/, prints the tables and one PASS/FAIL line per goal,
and with --strict exits 1 when a goal fails.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import http.client
import importlib
import json
import os
import platform
import random
import shlex
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).parent))
from support.brokers import BROKERS, Broker
from support.processes import Process, free_port, port_is_open, wait_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "performance"
OUT = ROOT / "docs" / "_static" / "performance"

QUEUE = "bench"  # The example's queue (tasks.QUEUE).
RAW_QUEUE = "bench-raw"  # Where the raw client publishes go.
CELERY_QUEUE = "bench-celery"

WEB_ADDRESS = "127.0.0.1:8000"  # Where the Procfile's gunicorn listens.
SMTP_DELAY = 0.5  # Seconds the local SMTP server takes to accept an e-mail.
IO_SECONDS = 0.02  # How long the I/O-bound actor waits.
TIMEOUT_VARIABLE = "dramatiq_worker_timeout"
GUIDE = "the guide's Procfile"  # The worker line examples/performance recommends.
DEFAULT_WORKER_TIMEOUT = 1000  # ms, Dramatiq's default.
OTHER_REDIS_TIMEOUTS = (100, 20)  # Redis poll caps measured besides the two.

# Goals (issue "Performance"): checked on every run.
PICKUP_P50_GOAL_MS = 20.0
SEND_RATIO_GOAL = 2.0
TIME_BUDGET_S = 180.0

# The commands need the virtualenv that runs this file.
os.environ["PATH"] = os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ["PATH"]]
)
# Dramatiq's defaults mean no override from the caller's environment.
os.environ.pop(TIMEOUT_VARIABLE, None)


@dataclass
class Counts:
    """How many samples each measurement takes, and how long it may last."""

    inline: int = 10
    enqueue_http: int = 200
    dev_server: int = 100
    enqueue_rounds: int = 400
    new_thread: int = 50
    pickup: int = 30
    pickup_slow: int = 8  # Samples with Dramatiq's 1 s Redis poll cap.
    noop: int = 3000  # At most; 300 per thread.
    io_per_thread: int = 50
    idle_window: float = 1.5
    settings: list[tuple[int, int]] = field(
        default_factory=lambda: [(1, 1), (1, 8), (2, 8)]
    )

    @classmethod
    def quick(cls) -> Counts:
        return cls(
            inline=4,
            enqueue_http=40,
            dev_server=20,
            enqueue_rounds=60,
            new_thread=10,
            pickup=8,
            pickup_slow=3,
            noop=300,
            io_per_thread=15,
            idle_window=1.0,
            settings=[(1, 8), (2, 8)],
        )


# Statistics ----------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(seconds: list[float], unit: float = 1e3) -> dict[str, float]:
    """n, p50, p99 and max of ``seconds``, in ms (or µs with unit=1e6)."""
    values = [s * unit for s in seconds]
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
    }


# The example, its processes and its actors ----------------------------------


class Example:
    """One broker folder of examples/performance, as a reader would run it."""

    def __init__(self, broker: Broker, logs: Path) -> None:
        self.broker = broker
        self.path = EXAMPLES / broker.name
        self.logs = logs

    def procfile(self, process_type: str) -> str:
        for line in (self.path / "Procfile").read_text().splitlines():
            name, _, command = line.partition(":")
            if name.strip() == process_type:
                return command.strip()
        raise LookupError(f"no {process_type!r} line in {self.path / 'Procfile'}")

    def web_command(self, port: int) -> str:
        """The Procfile's web line, on ``port`` instead of 8000."""
        command = self.procfile("web")
        assert WEB_ADDRESS in command, f"the web line binds {WEB_ADDRESS}"
        return command.replace(WEB_ADDRESS, f"127.0.0.1:{port}")

    def worker_timeout(self) -> int:
        """The Redis poll cap the Procfile's worker line sets, in ms."""
        words = shlex.split(self.procfile("worker"))
        for word in words[1:] if words[0] == "env" else []:
            name, _, value = word.partition("=")
            if name == TIMEOUT_VARIABLE:
                return int(value)
        return DEFAULT_WORKER_TIMEOUT

    def worker_command(self, *, defaults: bool = False, extra: str = "") -> str:
        """The Procfile's worker line; ``defaults`` drops its ``env X=Y`` prefix."""
        words = shlex.split(self.procfile("worker"))
        if defaults and words[0] == "env":
            words = words[1:]
            while "=" in words[0]:
                words = words[1:]
        return shlex.join(words) + (f" {extra}" if extra else "")

    def start(self, command: str, name: str, env: dict[str, str]) -> Process:
        return Process(
            command,
            cwd=self.path,
            env={self.broker.url_variable: self.broker.url, **env},
            log=self.logs / f"{self.broker.name}-{name}.log",
        )

    @contextmanager
    def worker(
        self, command: str, name: str, processes: int, env: dict[str, str]
    ) -> Iterator[Process]:
        """A running worker whose every process has said it is ready."""
        worker = self.start(command, name, env)
        try:
            wait_for(
                lambda: (
                    worker.output().count("is ready for action") >= processes
                    or worker.popen.poll() is not None
                ),
                timeout=60,
                what=f"{processes} worker processes of `{command}`",
            )
            if worker.popen.poll() is not None:
                raise RuntimeError(f"`{command}` exited:\n{worker.output()}")
            yield worker
        finally:
            worker.kill_group()

    def import_tasks(self) -> ModuleType:
        """Import the example's tasks.py in this process, as the web app does."""
        os.environ[self.broker.url_variable] = self.broker.url
        sys.modules.pop("tasks", None)
        sys.path.insert(0, str(self.path))
        try:
            return importlib.import_module("tasks")
        finally:
            sys.path.remove(str(self.path))


class Probe:
    """The UDP socket the actors report to (tasks.report_done)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for every datagram of a throughput run, even if this process
        # falls behind; SO_RCVBUFFORCE may pass the system's limit as root.
        for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, option, 8 << 20)
                break
            except (OSError, TypeError):
                continue
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def receive(self, deadline: float) -> tuple[str, float] | None:
        """The next token and when the actor finished it (time.time()).

        None at ``deadline`` (time.time()). The actor stamps the time, so a
        datagram read late, while the worker keeps the CPUs busy, still
        counts when it was sent.
        """
        left = deadline - time.time()
        if left <= 0:
            return None
        self.sock.settimeout(left)
        try:
            token, _, stamp = self.sock.recv(256).decode().partition(" ")
        except TimeoutError:
            return None
        return token, float(stamp)

    def wait(self, token: str, timeout: float) -> float | None:
        """When the actor finished ``token``; older tokens are dropped."""
        deadline = time.time() + timeout
        while (got := self.receive(deadline)) is not None:
            if got[0] == token:
                return got[1]
        return None

    def round_trip(self, tasks: ModuleType, token: str, timeout: float) -> bool:
        """Send the no-op actor ``token`` and wait until a worker has run it."""
        tasks.noop.send(self.port, token)
        return self.wait(token, timeout) is not None

    def close(self) -> None:
        self.sock.close()


def process_group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by every process of a group."""
    total = 0
    for pid in group_pids(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # The process ended meanwhile.
        # After the command: state ppid pgrp ... utime (12th) stime (13th).
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def group_pids(pgid: int) -> list[int]:
    """The processes of a process group (a server and the workers it forked)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # Not a process, or it ended meanwhile.
        # After the command come: state ppid pgrp.
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def open_files(pgid: int) -> int:
    """How many files (sockets included) a process group holds open."""
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in group_pids(pgid))


# 1. Request latency ----------------------------------------------------------


class SlowSMTPHandler:
    """An aiosmtpd handler that takes SMTP_DELAY seconds to accept each e-mail."""

    def __init__(self) -> None:
        self.accepted = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(SMTP_DELAY)
        self.accepted += 1
        return "250 Message accepted for delivery"


def post(port: int, path: str, form: dict[str, str]) -> tuple[int, float]:
    """POST a form over a new HTTP connection; the status and the seconds it took."""
    body = urlencode(form)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    return response.status, time.perf_counter() - started


def timed_posts(
    port: int, path: str, count: int, status: int, budget: float, warm_up: int
) -> list[float]:
    """Up to ``count`` sequential POSTs in at most ``budget`` seconds."""
    form = {"to": "ada@example.com"}
    for _ in range(warm_up):  # Imports, the threads' broker connections.
        post(port, path, form)
    times = []
    stop = time.perf_counter() + budget
    while len(times) < count and time.perf_counter() < stop:
        got, seconds = post(port, path, form)
        if got != status:
            raise RuntimeError(f"POST {path} answered {got}, expected {status}")
        times.append(seconds)
    return times


def measure_requests(example: Example, counts: Counts) -> dict:
    from aiosmtpd.controller import Controller

    handler = SlowSMTPHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    gunicorn_port, dev_port = free_port(), free_port()
    env = {"SMTP_PORT": str(smtp.port)}
    web = example.start(example.web_command(gunicorn_port), "web", env)
    # The quickstart's web command: Flask's development server.
    dev = example.start(
        "flask --app app run", "dev", {**env, "FLASK_RUN_PORT": str(dev_port)}
    )
    try:
        wait_for(
            lambda: port_is_open(gunicorn_port) and port_is_open(dev_port),
            timeout=30,
            what="the web servers",
        )
        inline = timed_posts(
            gunicorn_port, "/welcome/inline", counts.inline, 200, 15, warm_up=2
        )
        before = open_files(web.popen.pid)
        queued = timed_posts(
            gunicorn_port, "/welcome", counts.enqueue_http, 202, 10, warm_up=8
        )
        leaked = (open_files(web.popen.pid) - before) / len(queued)
        before = open_files(dev.popen.pid)
        dev_queued = timed_posts(
            dev_port, "/welcome", counts.dev_server, 202, 10, warm_up=8
        )
        dev_leaked = (open_files(dev.popen.pid) - before) / len(dev_queued)
    finally:
        web.kill_group()
        dev.kill_group()
        smtp.stop()
        example.broker.flush(QUEUE)
    return {
        "inline": summary(inline),
        "enqueue": {**summary(queued), "open_files_per_request": round(leaked, 2)},
        "enqueue_dev_server": {
            **summary(dev_queued),
            "open_files_per_request": round(dev_leaked, 2),
        },
        "smtp_accepted": handler.accepted,
    }


# 2. Enqueue cost ---------------------------------------------------------------


@dataclass
class Method:
    """One way to publish a message, and the seconds each call took."""

    name: str
    confirms: bool | None  # None: Redis, where nothing is confirmed.
    call: Callable[[], object]
    # A call that returns its own timing (see in_new_thread), and runs only
    # Counts.new_thread times.
    timed_inside: bool = False
    times: list[float] = field(default_factory=list)


def celery_delay(url: str, confirms: bool) -> tuple[Callable[[], object], object]:
    """Celery's delay() of a no-op task on ``url``; and the Celery app."""
    from celery import Celery

    app = Celery("bench", broker=url, set_as_current=False)
    app.conf.task_default_queue = CELERY_QUEUE
    if confirms:
        app.conf.broker_transport_options = {"confirm_publish": True}

    @app.task(name="bench.noop")
    def noop(port: int, token: str) -> None:
        pass

    return lambda: noop.delay(0, "enqueue"), app


def in_new_thread(send: Callable[[], object]) -> Callable[[], float]:
    """Run ``send`` in a thread of its own, as `flask run` runs each request."""

    def call() -> float:
        took: list[float] = []

        def run() -> None:
            started = time.perf_counter()
            send()
            took.append(time.perf_counter() - started)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        return took[0]

    return call


def rabbitmq_methods(tasks: ModuleType, url: str) -> tuple[list[Method], Callable]:
    import dramatiq
    import pika
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    connection = pika.BlockingConnection(pika.URLParameters(url))
    plain = connection.channel()
    confirmed = connection.channel()
    confirmed.confirm_delivery()
    plain.queue_declare(RAW_QUEUE, durable=True)
    # The same body and properties as Dramatiq's own publish.
    body = tasks.noop.message(0, "enqueue").encode()
    persistent = pika.BasicProperties(delivery_mode=2)
    # Dramatiq's default: a broker without publisher confirms.
    unconfirmed = RabbitmqBroker(url=url)
    noop = dramatiq.actor(
        tasks.noop.fn, broker=unconfirmed, queue_name=QUEUE, actor_name="noop"
    )
    celery_plain, app_plain = celery_delay(url, confirms=False)
    celery_confirmed, app_confirmed = celery_delay(url, confirms=True)
    methods = [
        Method(
            "raw publish (pika)",
            True,
            lambda: confirmed.basic_publish(
                "", RAW_QUEUE, body, persistent, mandatory=True
            ),
        ),
        Method("Dramatiq send()", True, lambda: tasks.noop.send(0, "enqueue")),
        Method("Celery delay()", True, celery_confirmed),
        Method(
            "raw publish (pika)",
            False,
            lambda: plain.basic_publish("", RAW_QUEUE, body, persistent),
        ),
        Method("Dramatiq send()", False, lambda: noop.send(0, "enqueue")),
        Method("Celery delay()", False, celery_plain),
        Method(
            "Dramatiq send(), new thread per call",
            True,
            in_new_thread(lambda: tasks.noop.send(0, "enqueue")),
            timed_inside=True,
        ),
    ]

    def cleanup() -> None:
        plain.queue_delete(RAW_QUEUE)
        for app in (app_plain, app_confirmed):
            app.close()
        plain.queue_delete(CELERY_QUEUE)
        plain.exchange_delete(CELERY_QUEUE)
        connection.close()
        unconfirmed.close()

    return methods, cleanup


def redis_methods(tasks: ModuleType, url: str) -> tuple[list[Method], Callable]:
    import redis

    client = redis.Redis.from_url(url)
    body = tasks.noop.message(0, "enqueue").encode()
    celery_send, app = celery_delay(url, confirms=False)
    methods = [
        Method(
            "raw publish (redis-py LPUSH)",
            None,
            lambda: client.lpush(RAW_QUEUE, body),
        ),
        # Dramatiq's own Lua script, called directly: what Redis does for a
        # send (store the message, queue its id, beat the heart), minus Python.
        Method(
            "Dramatiq's enqueue script alone",
            None,
            lambda: tasks.broker.do_enqueue(RAW_QUEUE, uuid.uuid4().hex, body),
        ),
        Method("Dramatiq send()", None, lambda: tasks.noop.send(0, "enqueue")),
        Method("Celery delay()", None, celery_send),
        Method(
            "Dramatiq send(), new thread per call",
            None,
            in_new_thread(lambda: tasks.noop.send(0, "enqueue")),
            timed_inside=True,
        ),
    ]

    def cleanup() -> None:
        client.delete(
            RAW_QUEUE,
            f"dramatiq:{RAW_QUEUE}",
            f"dramatiq:{RAW_QUEUE}.msgs",
            CELERY_QUEUE,
            *client.scan_iter(f"_kombu.binding*.{CELERY_QUEUE}"),
        )
        app.close()
        client.close()

    return methods, cleanup


def measure_enqueue(example: Example, tasks: ModuleType, counts: Counts) -> list[dict]:
    build = rabbitmq_methods if example.broker.name == "rabbitmq" else redis_methods
    methods, cleanup = build(tasks, example.broker.url)
    shuffle = random.Random(42).shuffle
    try:
        for method in methods:  # Warm-up: connections, queue declarations.
            for _ in range(5):
                method.call()
        stop = time.perf_counter() + 20
        for _ in range(counts.enqueue_rounds):
            if time.perf_counter() > stop:
                break
            # Interleaved, in a new order each round: noise hits all alike.
            order = [
                m
                for m in methods
                if not m.timed_inside or len(m.times) < counts.new_thread
            ]
            shuffle(order)
            for method in order:
                started = time.perf_counter()
                took = method.call()
                elapsed = time.perf_counter() - started
                method.times.append(took if method.timed_inside else elapsed)
    finally:
        cleanup()
        example.broker.flush(QUEUE)
    raw = {m.confirms: m for m in methods if m.name.startswith("raw")}
    rows = []
    for method in methods:
        stats = summary(method.times, unit=1e6)
        baseline = percentile(raw[method.confirms].times, 50) * 1e6
        rows.append(
            {
                "method": method.name,
                "confirms": method.confirms,
                **stats,
                "ratio_to_raw": round(stats["p50"] / baseline, 2),
            }
        )
    return rows


# 3. Pickup latency -------------------------------------------------------------


def redis_fetches(url: str, seconds: float, found: list[int]) -> None:
    """Count the fetches of the bench queues Redis runs in ``seconds`` (MONITOR)."""
    import redis

    # No read timeout: redis-py drops the connection after one. The idle
    # worker itself polls at least once a second, so reads do return.
    client = redis.Redis.from_url(url)
    count = 0
    with client.monitor() as monitor:
        start = time.time()
        while True:
            command = monitor.next_command()
            if command["time"] > start + seconds:
                break
            words = command["command"].split()
            if "fetch" in words and {QUEUE, f"{QUEUE}.DQ"} & set(words):
                count += 1
    client.close()
    found.append(count)


def ramp_seconds(timeout_ms: int) -> float:
    """The longest time the Redis consumer takes to back off to its cap when idle.

    It sleeps 5 ms after its first empty fetch, then twice as long after
    each next one (jittered up to 2x), until it reaches ``timeout_ms``.
    """
    total, step = 0.0, 5.0
    while step < timeout_ms:
        total += min(2 * step, timeout_ms)
        step *= 2
    return total / 1000


def measure_pickup(
    example: Example,
    tasks: ModuleType,
    probe: Probe,
    label: str,
    timeout_ms: int,
    samples: int,
    counts: Counts,
    processes: int | None = None,
) -> dict:
    """send -> done latency of an idle worker, and what the idle worker costs.

    The worker runs the Procfile's command with ``timeout_ms`` as its
    poll cap, and ``--processes`` when given (else one per CPU core).
    """
    redis = example.broker.name == "redis"
    extra = f"--processes {processes}" if processes else ""
    command = example.worker_command(defaults=True, extra=extra)
    env = (
        {}
        if timeout_ms == DEFAULT_WORKER_TIMEOUT
        else {TIMEOUT_VARIABLE: str(timeout_ms)}
    )
    processes = processes or os.cpu_count() or 1  # The CLI's default.
    # "Idle": long enough for the Redis consumer to reach its slowest poll.
    settle = ramp_seconds(timeout_ms) if redis else 0.05
    times = []
    with example.worker(command, f"pickup-{timeout_ms}", processes, env) as worker:
        if not probe.round_trip(tasks, f"ready-{timeout_ms}", 30):
            raise RuntimeError(f"the worker never answered:\n{worker.output()}")
        time.sleep(settle)
        # What staying idle costs: worker CPU, and broker calls on Redis.
        fetches: list[int] = []
        monitor = threading.Thread(
            target=redis_fetches,
            args=(example.broker.url, counts.idle_window, fetches),
        )
        cpu = process_group_cpu_seconds(worker.popen.pid)
        started = time.monotonic()
        if redis:
            monitor.start()
            monitor.join()
        else:
            time.sleep(counts.idle_window)
        cpu = process_group_cpu_seconds(worker.popen.pid) - cpu
        window = time.monotonic() - started
        stop = time.perf_counter() + (60 if redis and timeout_ms >= 1000 else 20)
        for i in range(samples):
            if time.perf_counter() > stop:
                break
            # A random pause: the message arrives at a random point of the
            # worker's idle poll cycle, as a real request would.
            time.sleep(settle + random.uniform(0, timeout_ms / 1000 if redis else 0.1))
            token = f"pickup-{timeout_ms}-{i}"
            started_send = time.time()
            tasks.noop.send(probe.port, token)
            done = probe.wait(token, timeout=10)
            if done is None:
                raise RuntimeError(f"{token} never came back:\n{worker.output()}")
            times.append(done - started_send)
    return {
        "settings": label,
        "worker_timeout_ms": timeout_ms,
        "processes": processes,
        **summary(times),
        "idle_broker_calls_per_s": round(fetches[0] / window, 1) if redis else 0,
        "idle_worker_cpu_percent": round(100 * cpu / window, 1),
    }


# 4. Throughput -------------------------------------------------------------------


def measure_throughput(
    example: Example, tasks: ModuleType, probe: Probe, counts: Counts
) -> list[dict]:
    """Messages/s of one worker, for each --processes x --threads setting.

    The worker boots, answers a first message, and is then frozen (SIGSTOP)
    while the queue fills, so that all its processes start at once on a full
    queue when it resumes (SIGCONT).
    """
    # Fill the queue fast: on RabbitMQ without waiting for confirms.
    fill = tasks.broker
    if example.broker.name == "rabbitmq":
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        fill = RabbitmqBroker(url=example.broker.url)
    rows = []
    for processes, threads in counts.settings:
        extra = f"--processes {processes} --threads {threads}"
        command = example.worker_command(extra=extra)
        name = f"throughput-{processes}x{threads}"
        with example.worker(command, name, processes, {}) as worker:
            if not probe.round_trip(tasks, f"ready-{name}", 30):
                raise RuntimeError(f"the worker never answered:\n{worker.output()}")
            runs = [
                ("no-op", tasks.noop, (), min(counts.noop, 300 * processes * threads)),
                (
                    "I/O 20 ms",
                    tasks.wait_io,
                    (IO_SECONDS,),
                    counts.io_per_thread * processes * threads,
                ),
            ]
            for actor_label, actor, args, total in runs:
                os.killpg(worker.popen.pid, signal.SIGSTOP)
                try:
                    prefix = f"{name}-{actor.actor_name}-"
                    for i in range(total):
                        fill.enqueue(actor.message(probe.port, f"{prefix}{i}", *args))
                finally:
                    os.killpg(worker.popen.pid, signal.SIGCONT)
                done = []
                deadline = time.time() + 30
                while len(done) < total:
                    got = probe.receive(deadline)
                    if got is None:
                        break
                    if got[0].startswith(prefix):
                        done.append(got[1])
                rows.append(
                    {
                        "actor": actor_label,
                        "processes": processes,
                        "threads": threads,
                        "messages": total,
                        "received": len(done),
                        "messages_per_s": round(rate(done), 1),
                    }
                )
        example.broker.flush(QUEUE)
    if fill is not tasks.broker:
        fill.close()
    return rows


def forget_killed_workers(url: str) -> None:
    """Drop what killed Redis workers left: their sets of unacked message ids.

    Dramatiq's maintenance would drop them too, minutes later.
    """
    import redis

    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(f"dramatiq:__acks__.*.{QUEUE}*"):
            client.delete(key)


def rate(done: list[float]) -> float:
    """Messages/s between the 10th and the 90th percent of completions."""
    done = sorted(done)
    if len(done) < 10:
        return 0.0
    first, last = int(len(done) * 0.1), int(len(done) * 0.9)
    return (last - first) / (done[last] - done[first])


# The machine, the goals, the files ------------------------------------------------

PACKAGES = ("dramatiq", "pika", "redis", "celery", "kombu", "amqp", "flask", "gunicorn")


def machine(names: list[str]) -> dict[str, str]:
    """What produced the numbers: hardware, Python, packages, broker versions."""
    cpuinfo = (
        Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    )
    models = [
        line.split(":", 1)[1].strip()
        for line in cpuinfo.splitlines()
        if line.startswith("model name")
    ]
    info = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": models[0] if models else platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    for package in PACKAGES:
        info[package] = metadata.version(package)
    if "rabbitmq" in names:
        import pika

        with pika.BlockingConnection(pika.URLParameters(BROKERS["rabbitmq"].url)) as c:
            info["RabbitMQ server"] = str(c._impl.server_properties["version"])
    if "redis" in names:
        import redis

        with redis.Redis.from_url(BROKERS["redis"].url) as client:
            info["Redis server"] = client.info("server")["redis_version"]
    return info


def check_goals(results: dict) -> list[dict]:
    goals = []

    def goal(name: str, broker: str, value: float, limit: float, unit: str) -> None:
        goals.append(
            {
                "goal": name,
                "broker": broker,
                "value": round(value, 2),
                "limit": round(limit, 2),
                "unit": unit,
                "result": "PASS" if value <= limit else "FAIL",
            }
        )

    for name, broker in results["brokers"].items():
        label = BROKERS[name].label
        [guide] = [p for p in broker["pickup"] if p["settings"] == GUIDE]
        goal(
            "send-to-done p50, the guide's worker",
            label,
            guide["p50"],
            PICKUP_P50_GOAL_MS,
            "ms",
        )
        # Like with like: the guide's RabbitMQ broker waits for confirms.
        confirms = True if name == "rabbitmq" else None
        rows = {r["method"]: r for r in broker["enqueue"] if r["confirms"] is confirms}
        send = rows["Dramatiq send()"]
        goal(
            "send() p50 / raw publish p50",
            label,
            send["ratio_to_raw"],
            SEND_RATIO_GOAL,
            "x",
        )
        goal(
            "send() p50 / Celery delay() p50",
            label,
            send["p50"] / rows["Celery delay()"]["p50"],
            1.0,
            "x",
        )
    goal("whole benchmark", "both", results["seconds"], TIME_BUDGET_S, "s")
    return goals


Table = tuple[list[str], list[list]]  # A header, then rows.


def tables(results: dict) -> dict[str, Table]:
    """The results as the tables the Performance page shows, one per CSV file."""
    out: dict[str, Table] = {
        "requests": (
            [
                "Broker",
                "View",
                "Server",
                "Requests",
                "p50 (ms)",
                "p99 (ms)",
                "Max (ms)",
                "Open files per request",
            ],
            [],
        ),
        "enqueue": (
            [
                "Broker",
                "Method",
                "Confirms",
                "Calls",
                "p50 (µs)",
                "p99 (µs)",
                "p50 / raw publish p50",
            ],
            [],
        ),
        "pickup": (
            [
                "Broker",
                "Worker",
                "Poll cap (ms)",
                "Processes",
                "Messages",
                "p50 (ms)",
                "p99 (ms)",
                "Max (ms)",
                "Idle: Redis calls/s",
                "Idle: worker CPU (% of a core)",
            ],
            [],
        ),
        "throughput": (
            ["Broker", "Actor", "Processes", "Threads", "Messages", "Messages/s"],
            [],
        ),
    }
    views = [
        ("e-mail sent in the view", "gunicorn", "inline"),
        ("e-mail enqueued", "gunicorn", "enqueue"),
        ("e-mail enqueued", "flask run", "enqueue_dev_server"),
    ]
    for name, broker in results["brokers"].items():
        label = BROKERS[name].label
        for view, server, key in views:
            r = broker["requests"][key]
            out["requests"][1].append(
                [
                    label,
                    view,
                    server,
                    r["n"],
                    r["p50"],
                    r["p99"],
                    r["max"],
                    r.get("open_files_per_request", ""),
                ]
            )
        for r in broker["enqueue"]:
            confirms = {True: "yes", False: "no", None: "n/a"}[r["confirms"]]
            out["enqueue"][1].append(
                [
                    label,
                    r["method"],
                    confirms,
                    r["n"],
                    r["p50"],
                    r["p99"],
                    r["ratio_to_raw"],
                ]
            )
        for r in broker["pickup"]:
            calls = r["idle_broker_calls_per_s"] if name == "redis" else "n/a"
            out["pickup"][1].append(
                [
                    label,
                    r["settings"],
                    r["worker_timeout_ms"],
                    r["processes"],
                    r["n"],
                    r["p50"],
                    r["p99"],
                    r["max"],
                    calls,
                    r["idle_worker_cpu_percent"],
                ]
            )
        for r in broker["throughput"]:
            out["throughput"][1].append(
                [
                    label,
                    r["actor"],
                    r["processes"],
                    r["threads"],
                    r["messages"],
                    r["messages_per_s"],
                ]
            )
    out["goals"] = (
        ["Goal", "Broker", "Measured", "Limit", "Unit", "Result"],
        [
            [g["goal"], g["broker"], g["value"], g["limit"], g["unit"], g["result"]]
            for g in results["goals"]
        ],
    )
    out["machine"] = (
        ["Item", "Value"],
        [[k, v] for k, v in results["machine"].items()],
    )
    return out


def readable(value: object) -> object:
    """A measured number with three significant digits: 512, 12.3, 1.23, 0.123."""
    if not isinstance(value, float):
        return value
    for digits, limit in ((0, 100), (1, 10), (2, 0.1)):
        if abs(value) >= limit:
            return round(value, digits) if digits else round(value)
    return round(value, 3)


def write_csv(path: Path, table: Table) -> None:
    header, rows = table
    rows = [[readable(value) for value in row] for row in rows]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def plot(results: dict, path: Path, png: bool) -> None:
    """Four panels, one per measurement, RabbitMQ and Redis side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    # The same numbers give the same file: no date, no random ids.
    plt.rcParams["svg.hashsalt"] = "performance"
    # Text as text: a smaller file, and the browser's own fonts.
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["font.size"] = 8
    brokers = results["brokers"]
    names = list(brokers)
    colors = {"rabbitmq": "#f60", "redis": "#a41e11"}
    figure, axes = plt.subplots(2, 2, figsize=(12, 9), layout="constrained")
    plain = FuncFormatter(lambda value, _: f"{value:g}")

    def panel(ax, title: str, unit: str, rows: dict[str, dict], log: bool) -> None:
        """Grouped horizontal bars: rows[broker][category] = (p50, p99 or None)."""
        categories = list(dict.fromkeys(c for r in rows.values() for c in r))
        height = 0.8 / len(names)
        for i, name in enumerate(names):
            ys, values, whiskers = [], [], []
            for y, category in enumerate(categories):
                if category in rows[name]:
                    value, high = rows[name][category]
                    ys.append(y + (i - (len(names) - 1) / 2) * height)
                    values.append(value)
                    whiskers.append(max((high or value) - value, 0))
            ax.barh(
                ys,
                values,
                height,
                xerr=[[0] * len(ys), whiskers],
                color=colors[name],
                label=BROKERS[name].label,
                capsize=2,
                error_kw={"linewidth": 0.8},
            )
            for y, value, whisker in zip(ys, values, whiskers, strict=True):
                text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
                ax.annotate(
                    text,
                    (value + whisker, y),
                    va="center",
                    xytext=(3, 0),
                    textcoords="offset points",
                    fontsize=7,
                )
        ax.set_yticks(range(len(categories)), categories)
        ax.invert_yaxis()
        if log:
            ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plain)
        ax.set_xlabel(unit)
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right")
        ax.margins(x=0.15)

    views = [
        ("inline", "e-mail sent in the view"),
        ("enqueue", "e-mail enqueued, gunicorn"),
        ("enqueue_dev_server", "e-mail enqueued, flask run"),
    ]
    panel(
        axes[0][0],
        "1. Request latency of the welcome view",
        "ms, log scale (bar: p50, whisker: p99)",
        {
            n: {
                label: (
                    brokers[n]["requests"][key]["p50"],
                    brokers[n]["requests"][key]["p99"],
                )
                for key, label in views
            }
            for n in names
        },
        log=True,
    )
    confirms = {True: ", confirms", False: ", no confirms", None: ""}
    panel(
        axes[0][1],
        "2. Cost of one publish",
        "µs, log scale (bar: p50, whisker: p99)",
        {
            n: {
                f"{r['method']}{confirms[r['confirms']]}": (r["p50"], r["p99"])
                for r in brokers[n]["enqueue"]
            }
            for n in names
        },
        log=True,
    )
    goal = PICKUP_P50_GOAL_MS
    panel(
        axes[1][0],
        "3. send -> done on an idle worker",
        f"ms, log scale (bar: p50, whisker: p99; dashed: the {goal:g} ms goal)",
        {
            n: {r["settings"]: (r["p50"], r["p99"]) for r in brokers[n]["pickup"]}
            for n in names
        },
        log=True,
    )
    axes[1][0].axvline(goal, color="black", linestyle="--", linewidth=0.8)
    panel(
        axes[1][1],
        "4. Throughput of one worker",
        "messages/s, log scale",
        {
            n: {
                f"{r['actor']}, -p {r['processes']} -t {r['threads']}": (
                    r["messages_per_s"],
                    None,
                )
                for r in brokers[n]["throughput"]
            }
            for n in names
        },
        log=True,
    )
    m = results["machine"]
    figure.suptitle(
        f"Dramatiq {m['dramatiq']} on {m['cores']} cores ({m['cpu']}), "
        f"Python {m['python']}, RabbitMQ {m.get('RabbitMQ server', '-')}, "
        f"Redis {m.get('Redis server', '-')}, {m['date']}",
        fontsize=10,
    )
    figure.savefig(path.with_suffix(".svg"), metadata={"Date": None})
    if png:
        figure.savefig(path.with_suffix(".png"), dpi=80, metadata={"Software": None})
    plt.close(figure)


def print_table(title: str, table: Table) -> None:
    header, rows = table
    cells = [header, *([str(readable(value)) for value in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for row in cells:
        print(
            "  ".join(
                value.ljust(width) for value, width in zip(row, widths, strict=True)
            )
        )


def run_broker(example: Example, counts: Counts) -> dict:
    redis = example.broker.name == "redis"
    started = time.perf_counter()

    def log(what: str) -> None:
        took = time.perf_counter() - started
        print(f"[{example.broker.label} +{took:5.1f} s] {what}", flush=True)

    log("1/4 request latency")
    requests = measure_requests(example, counts)
    tasks = example.import_tasks()
    example.broker.flush(QUEUE)
    probe = Probe()
    try:
        log("2/4 enqueue cost")
        enqueue = measure_enqueue(example, tasks, counts)
        log("3/4 pickup latency")
        recommended = example.worker_timeout()
        slow = counts.pickup_slow if redis else counts.pickup
        variants = [
            ("Dramatiq defaults", DEFAULT_WORKER_TIMEOUT, slow, None),
            (GUIDE, recommended, counts.pickup, None),
            (f"{GUIDE}, --processes 1", recommended, counts.pickup, 1),
        ]
        if redis:
            variants += [
                (f"{TIMEOUT_VARIABLE}={t}", t, counts.pickup, None)
                for t in OTHER_REDIS_TIMEOUTS
                if t != recommended
            ]
        pickup, measured = [], {}
        for label, timeout, samples, processes in variants:
            # On RabbitMQ the guide's worker is Dramatiq's: measure it once.
            key = (timeout, processes)
            if key not in measured:
                measured[key] = measure_pickup(
                    example, tasks, probe, label, timeout, samples, counts, processes
                )
            pickup.append({**measured[key], "settings": label})
        example.broker.flush(QUEUE)
        log("4/4 throughput")
        throughput = measure_throughput(example, tasks, probe, counts)
        log("done")
    finally:
        probe.close()
        tasks.broker.close()
        example.broker.flush(QUEUE)
        if redis:
            forget_killed_workers(example.broker.url)
    return {
        "recommended_worker_timeout_ms": recommended,
        "requests": requests,
        "enqueue": enqueue,
        "pickup": pickup,
        "throughput": throughput,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few samples, to try it")
    parser.add_argument(
        "--broker",
        choices=list(BROKERS),
        action="append",
        help="only this broker (repeat for both)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT}")
    parser.add_argument(
        "--png", action="store_true", help="also write results.png, next to results.svg"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a goal fails"
    )
    parser.add_argument(
        "--replot",
        action="store_true",
        help="only redraw the files from the results.json in --out",
    )
    args = parser.parse_args()
    if args.replot:
        results = json.loads((args.out / "results.json").read_text())
        return write_and_report(results, args.out, None, args.strict, args.png)
    counts = Counts.quick() if args.quick else Counts()
    names = args.broker or list(BROKERS)
    for name in names:
        if not BROKERS[name].is_reachable():
            print(BROKERS[name].unreachable_message(), file=sys.stderr)
            return 2
    started = time.perf_counter()
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    results: dict = {
        "machine": machine(names),
        "counts": asdict(counts),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "brokers": {},
    }
    for name in names:
        results["brokers"][name] = run_broker(Example(BROKERS[name], logs), counts)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["goals"] = check_goals(results)
    return write_and_report(results, args.out, logs, args.strict, args.png)


def write_and_report(
    results: dict, out: Path, logs: Path | None, strict: bool, png: bool
) -> int:
    """Write the JSON, CSV and plot files; print the tables and the goals."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    shown = tables(results)
    for name, table in shown.items():
        write_csv(out / f"{name}.csv", table)
    plot(results, out / "results.svg", png)

    for name, table in shown.items():
        if name != "goals":
            print_table(name, table)
    print(
        f"\nLoad average before/after: {results['load_average_before']} / "
        f"{results['load_average_after']}"
    )
    if logs:
        print(f"Logs of the web servers and workers: {logs}")
    print(f"Wrote {out}\n")
    for row in results["goals"]:
        print(
            f"{row['result']}  {row['broker']:8}  {row['goal']}: "
            f"{row['value']} {row['unit']} (limit {row['limit']} {row['unit']})"
        )
    failed = any(row["result"] == "FAIL" for row in results["goals"])
    return 1 if strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
