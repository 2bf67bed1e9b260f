"""The metrics example as its Procfile runs it, and a real Prometheus scraping it.

Each metrics server gets a free port, and the worker's counts a folder of
the test's own: the tests run in parallel, and the Procfile's fixed folder
and ports would be shared.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.examples import Example
from support.processes import Process, free_port, port_is_open, wait_for

# The folder the Procfile gives the worker's counts, and the ports the
# pages show: the app's, its metrics server's, the worker's, Prometheus's.
SHOWN_DB = "dramatiq_prom_db=/tmp/flask-app-worker-metrics"
SHOWN_PORTS = {"web": 8000, "app_metrics": 9200, "worker_metrics": 9191}
PROMETHEUS_PORT = 9090
# Where the broker's own metrics are: RabbitMQ's plugin, the Redis exporter.
SHOWN_BROKER_METRICS_PORT = {"rabbitmq": 15692, "redis": 9121}
# Three retries, as by default, but 0.1 to 0.2 s apart: a failing import
# ends in a second.
FAST_RETRIES = {"FEED_MIN_BACKOFF_MS": "100", "FEED_MAX_BACKOFF_MS": "200"}


@dataclass
class Running:
    """The ports of a running example, and where its processes write."""

    ports: dict[str, int]
    worker: Process
    web: Process
    web_tmp: Path  # gunicorn's TMPDIR: where it makes its metrics folder.

    def here(self, command: str) -> str:
        """A command of the page, aimed at this run's ports."""
        for name, shown in SHOWN_PORTS.items():
            command = command.replace(
                f"127.0.0.1:{shown}", f"127.0.0.1:{self.ports[name]}"
            )
        return command


@contextmanager
def running(example: Example, tmp_path: Path) -> Iterator[Running]:
    """The Procfile's worker and web processes, each metrics server answering."""
    ports = {name: free_port() for name in SHOWN_PORTS}
    worker_command = example.procfile_command("worker")
    assert SHOWN_DB in worker_command
    web_tmp = tmp_path / "web-tmp"
    web_tmp.mkdir()
    broker = {example.broker.url_variable: example.broker.url}
    worker = Process(
        worker_command.replace(SHOWN_DB, f"dramatiq_prom_db={tmp_path / 'worker-db'}"),
        cwd=example.path,
        env={
            **broker,
            **FAST_RETRIES,
            "dramatiq_prom_port": str(ports["worker_metrics"]),
        },
        log=tmp_path / "worker.log",
    )
    web = Process(
        example.procfile_command("web").replace(
            "127.0.0.1:8000", f"127.0.0.1:{ports['web']}"
        ),
        cwd=example.path,
        env={
            **broker,
            "APP_METRICS_PORT": str(ports["app_metrics"]),
            "TMPDIR": str(web_tmp),
            "XDG_RUNTIME_DIR": str(tmp_path),  # gunicorn's control socket
        },
        log=tmp_path / "web.log",
    )
    try:
        for name, port in ports.items():
            wait_for(
                lambda port=port: port_is_open(port),
                timeout=20,
                what=f"the {name} port",
            )
        yield Running(ports, worker, web, web_tmp)
    finally:
        worker.kill_group()
        web.kill_group()


@contextmanager
def prometheus(
    example: Example, tmp_path: Path, run: Running, broker_metrics: int | None
) -> Iterator[int]:
    """The page's Prometheus command and settings, scraping ``run`` every second.

    The settings are the example's, with this run's ports (and the Redis
    exporter's, ``broker_metrics``), and 1 s instead of 15 s between
    scrapes and between evaluations of the alert rules. Yields Prometheus's
    port once it is ready.
    """
    folder = tmp_path / "prometheus"
    folder.mkdir()
    settings = (example.path / "prometheus.yml").read_text()
    for interval in ("scrape_interval: 15s", "evaluation_interval: 15s"):
        assert interval in settings
        settings = settings.replace(interval, interval.replace("15s", "1s"))
    if broker_metrics:
        shown = f"127.0.0.1:{SHOWN_BROKER_METRICS_PORT[example.broker.name]}"
        settings = settings.replace(shown, f"127.0.0.1:{broker_metrics}")
    (folder / "prometheus.yml").write_text(run.here(settings))
    shutil.copy(example.path / "alerts.yml", folder)
    port = free_port()
    [command] = example.commands("prometheus")
    shown = f"127.0.0.1:{PROMETHEUS_PORT}"
    assert shown in command
    server = Process(
        command.replace(shown, f"127.0.0.1:{port}"),
        cwd=folder,
        env={},
        log=tmp_path / "prometheus.log",
    )
    try:
        wait_for(lambda: ready(port), timeout=30, what="Prometheus to be ready")
        yield port
    finally:
        server.kill_group()


@contextmanager
def redis_exporter(example: Example, tmp_path: Path) -> Iterator[int]:
    """The Redis page's exporter command, on a free port and the test's database.

    Yields its port once it answers.
    """
    [command] = [
        line
        for line in example.commands("broker-metrics-local")
        if line.startswith("prometheus-redis-exporter ")
    ]
    port = free_port()
    shown = f"127.0.0.1:{SHOWN_BROKER_METRICS_PORT['redis']}"
    assert shown in command
    database = example.broker.namespace
    command = command.replace(shown, f"127.0.0.1:{port}").replace(
        "dramatiq:", f"db{database}=dramatiq:"
    )
    server = Process(
        f"{command} -redis.addr={example.broker.url}",
        cwd=tmp_path,
        env={},
        log=tmp_path / "redis-exporter.log",
    )
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the Redis exporter")
        yield port
    finally:
        server.kill_group()


def printed(command: str, *, check: bool = True) -> str:
    """What a page's shell command (a pipeline) printed."""
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=10, check=check
    ).stdout


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1):
            return True
    except OSError:
        return False


def query(port: int, promql: str) -> dict[str, float]:
    """Ask Prometheus; each series' labels (as JSON, sorted) and its value."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": promql}
    )
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    return {
        json.dumps(series["metric"], sort_keys=True): float(series["value"][1])
        for series in answer["data"]["result"]
    }


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(
                    str(ipaddress.ip_address(bytes.fromhex(address)[::-1]))
                    if len(address) == 8
                    else address
                )
    return found
