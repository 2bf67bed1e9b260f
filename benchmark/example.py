"""The example as a reader runs it, its processes, and the actors' UDP probe."""

from __future__ import annotations

import importlib
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from benchmark.settings import (
    DEFAULT_WORKER_TIMEOUT,
    EXAMPLES,
    QUEUE,
    TIMEOUT_VARIABLE,
    WEB_ADDRESS,
)
from support.brokers import Broker
from support.processes import Process, wait_for


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


def forget_killed_workers(url: str) -> None:
    """Drop what killed Redis workers left: their sets of unacked message ids.

    Dramatiq's maintenance would drop them too, minutes later.
    """
    import redis

    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(f"dramatiq:__acks__.*.{QUEUE}*"):
            client.delete(key)
