"""docs/deployment.rst, 'Connect after gunicorn forks'.

Each gunicorn worker opens its own broker connection after the fork, read
from Linux's /proc; with --preload and a send at import, the connection
opened before the fork is shared, as the page's warning says.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.deployment import (
    THREADS,
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_running,  # noqa: F401  (the fixture "running")
    post_the_guides_request,
    start_web,
)
from support.examples import Example
from support.processes import Process, port_is_open, wait_for


def broker_sockets(pid: int, port: int) -> set[str]:
    """The TCP connections to ``port`` that process ``pid`` holds, by inode."""
    sockets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            sockets.add(target[len("socket:[") : -1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rpartition(":")[2], 16)
            if remote_port == port and fields[9] in sockets:
                found.add(fields[9])
    return found


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


linux_proc = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="reads connections from Linux's /proc"
)


@linux_proc
def test_each_gunicorn_worker_connects_to_the_broker_after_the_fork(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    web, port = start_web(example, tmp_path, running, {})
    wait_for(lambda: port_is_open(port), timeout=15, what="gunicorn")
    _, broker_port = example.broker.address
    wait_for(lambda: len(children(web.popen.pid)) == 2, timeout=15, what="2 workers")
    workers = children(web.popen.pid)

    def each_worker_connected() -> bool:
        # gunicorn picks the worker: post until both have served a request.
        post_the_guides_request(example, port)
        return all(broker_sockets(pid, broker_port) for pid in workers)

    wait_for(each_worker_connected, timeout=20, what="a request on each worker")
    # gunicorn's master process imported nothing that connects, and no
    # worker shares a connection with the other: each opened its own.
    first, second = (broker_sockets(pid, broker_port) for pid in workers)
    assert broker_sockets(web.popen.pid, broker_port) == set()
    assert not first & second


# The pitfall the page warns about: a module that sends while it is imported.
PRELOADED = """
from app import app
from tasks import add

add.send(0, 0)
"""


@linux_proc
@pytest.mark.parametrize(
    "threads", [THREADS, "--threads 1"], ids=["procfile-threads", "one-thread"]
)
def test_preload_and_a_send_at_import_share_one_connection_without_threads(
    example: Example, tmp_path: Path, running: list[Process], threads: str
) -> None:
    (tmp_path / "preloaded.py").write_text(PRELOADED)
    env = {"PYTHONPATH": str(tmp_path)}
    # --preload imports the module in gunicorn's master, before the fork.
    web, port = start_web(
        example, tmp_path, running, env, app="--preload preloaded:app", threads=threads
    )
    wait_for(lambda: port_is_open(port), timeout=15, what="gunicorn")
    _, broker_port = example.broker.address
    [inherited] = broker_sockets(web.popen.pid, broker_port)
    for _ in range(6):
        post_the_guides_request(example, port)

    workers = children(web.popen.pid)
    used = set().union(*(broker_sockets(pid, broker_port) for pid in workers))
    if example.broker.name == "rabbitmq" and threads == "--threads 1":
        # One thread per process, the thread that imported the app: both
        # workers write to the connection they inherited. One socket, three
        # processes; concurrent requests interleave their frames.
        assert used == {inherited}
    else:
        # RabbitMQ with --threads: requests run in other threads, which open
        # their own connections. redis-py notices the fork and reconnects.
        assert used - {inherited}
