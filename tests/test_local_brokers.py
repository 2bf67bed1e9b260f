"""Without Docker: the broker commands the pages show start a broker on this machine only.

Each ``*-local`` section of ``commands.sh`` runs as written, in the order a
reader meets them (install page, results, reliability), on a sandbox that
stands in for the reader's Debian machine: network, mount and PID namespaces
of its own. There, 127.0.0.1:5672 and :6379 are free, RabbitMQ's and Redis's
folders under /etc, /var/lib, /var/log and /run are empty tmpfs mounts, and
killing the sandbox's first process ends everything started in it. The
machine's shared brokers, their data and their epmd stay out of reach.

After each start, the broker must answer on 127.0.0.1 and refuse connections
on an address of another interface of the sandbox, and an example must run
against it. ``nox -s local_brokers`` runs this module; plain ``nox`` does not.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from markers import marked_lines
from support.examples import EXAMPLES
from support.hosts import SERVICE_FOLDERS, Sandbox, sandboxes_work
from support.output import check_shown_output
from support.processes import wait_for

PYTHON = sys.executable
DRAMATIQ = str(Path(sys.executable).parent / "dramatiq")
PORTS = {"rabbitmq": 5672, "redis": 6379}
# An interface of the sandbox other than loopback, with an address from each
# family's documentation range: a server bound to every interface answers
# there, one bound to 127.0.0.1 refuses.
OTHER_ADDRESSES = ("192.0.2.1", "2001:db8::1")
SETUP = f"""
ip link add probe type veth peer name probe-peer
ip address add {OTHER_ADDRESSES[0]}/24 dev probe
ip address add {OTHER_ADDRESSES[1]}/64 dev probe nodad
ip link set probe up
ip link set probe-peer up
"""

pytestmark = [
    pytest.mark.local_brokers,
    pytest.mark.skipif(
        not sandboxes_work() or not shutil.which("rabbitmq-server"),
        reason="needs root, unshare, nsenter, and Debian's rabbitmq-server and "
        "redis-server packages",
    ),
]


def new_sandbox(home: Path) -> Sandbox:
    """A sandbox with the brokers' folders empty and a second interface."""
    sandbox = Sandbox(home, masked=SERVICE_FOLDERS, setup=SETUP)
    # Nothing of the machine's shows through before anything starts.
    masked = sandbox.run("findmnt --noheadings --output FSTYPE /var/lib/rabbitmq")
    assert masked.stdout.strip() == "tmpfs"
    assert not sandbox.run("ss --listening --tcp --numeric --no-header").stdout
    return sandbox


def answering(sandbox: Sandbox, port: int) -> dict[str, bool]:
    """Which of 127.0.0.1 and the other interface's addresses accept on ``port``."""
    hosts = ("127.0.0.1", *OTHER_ADDRESSES)
    check = (
        "import socket\n"
        f"for host in {hosts!r}:\n"
        "    try:\n"
        f"        socket.create_connection((host, {port}), timeout=2).close()\n"
        "        print(host, 'open')\n"
        "    except OSError:\n"
        "        print(host, 'closed')\n"
    )
    lines = sandbox.run(f"{PYTHON} -c {shlex.quote(check)}").stdout.split("\n")
    return {
        host: state == "open"
        for host, state in (line.split() for line in lines if line)
    }


def only_on_loopback(sandbox: Sandbox, port: int) -> None:
    expected = {"127.0.0.1": True, **dict.fromkeys(OTHER_ADDRESSES, False)}
    wait_for(
        lambda: answering(sandbox, port)["127.0.0.1"],
        timeout=30,
        what=f"a server on 127.0.0.1:{port}",
        interval=0.5,
    )
    assert answering(sandbox, port) == expected


@pytest.fixture(scope="module", params=list(PORTS))
def machine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Sandbox]]:
    """One sandbox per broker, shared by this module's tests in file order."""
    sandbox = new_sandbox(tmp_path_factory.mktemp(f"home-{request.param}"))
    try:
        yield request.param, sandbox
    finally:
        # Stop what the pages started, the way a reader would, then end the
        # sandbox. Inside its network namespace, rabbitmqctl and redis-cli
        # can only reach the sandbox's own servers.
        sandbox.run(
            "rabbitmqctl -n rabbit@$(hostname -s) shutdown; redis-cli shutdown nosave",
            check=False,
        )
        sandbox.close()


def test_install_page_starts_the_broker_on_this_machine_only(machine) -> None:
    broker, sandbox = machine
    sandbox.run_section(EXAMPLES / "quickstart" / broker, "start-broker-local")
    only_on_loopback(sandbox, PORTS[broker])


def test_the_quickstart_runs_against_that_broker(machine, tmp_path: Path) -> None:
    broker, sandbox = machine
    folder = EXAMPLES / "quickstart" / broker
    log = tmp_path / "worker.log"
    sandbox.run(
        f"setsid {DRAMATIQ} tasks --processes 1 --threads 1 > {log} 2>&1 &", cwd=folder
    )
    sandbox.run(f"{PYTHON} -c 'from tasks import add; add.send(1, 2)'", cwd=folder)
    wait_for(
        lambda: "The sum of 1 and 2 is 3." in log.read_text(),
        timeout=30,
        what="the worker to run add(1, 2)",
    )
    sandbox.run(f"kill -TERM -- -$(pgrep -o -f '{DRAMATIQ} tasks')", check=False)


# RabbitMQ's Prometheus plugin: the Redis tab's exporter is a client,
# tests/test_metrics_prometheus.py runs it against the shared Redis.
@pytest.mark.parametrize("machine", ["rabbitmq"], indirect=True)
def test_metrics_page_serves_queue_counts_on_this_machine_only(machine) -> None:
    broker, sandbox = machine
    folder = EXAMPLES / "metrics" / broker
    sandbox.run_section(folder, "broker-metrics-local")
    only_on_loopback(sandbox, 15692)
    # Three imports and no worker: they wait in the queue, ready.
    send = (
        "from tasks import import_feed\n"
        "for _ in range(3):\n"
        "    import_feed.send('http://127.0.0.1:9/feed.xml')"
    )
    sandbox.run(f"{PYTHON} -c {shlex.quote(send)}", cwd=folder)
    ready = 'rabbitmq_detailed_queue_messages_ready{vhost="/",queue="feeds"} 3'
    # The plugin refreshes its queue counts every few seconds.
    wait_for(
        lambda: ready in sandbox.run_section(folder, "broker-metrics"),
        timeout=30,
        what="the plugin to count the three messages",
        interval=1,
    )
    check_shown_output(
        folder / "broker-metrics.txt", sandbox.run_section(folder, "broker-metrics")
    )


def test_dead_letter_count_without_docker(machine) -> None:
    broker, sandbox = machine
    folder = EXAMPLES / "email" / broker
    if broker == "rabbitmq":
        # Declaring the e-mail actor's queue declares its dead-letter queue.
        declare = (
            "from tasks import broker, send_email\n"
            "broker.declare_queue(send_email.queue_name, ensure=True)"
        )
        sandbox.run(f"{PYTHON} -c {shlex.quote(declare)}", cwd=folder)
    output = sandbox.run_section(folder, "dead-letters-local")
    if broker == "rabbitmq":
        # email.rst: the count is the messages column of the email.XQ row.
        assert re.search(r"^email\.XQ\t0$", output, re.MULTILINE), output
    else:
        # email.rst: zcard prints it alone.
        assert output == "0\n"


# RabbitMQ's consumer_timeout: the Redis tab has no such command.
@pytest.mark.parametrize("machine", ["rabbitmq"], indirect=True)
def test_rabbitmq_settings_and_queues_without_docker(machine, tmp_path: Path) -> None:
    broker, sandbox = machine
    folder = EXAMPLES / "troubleshooting" / broker
    timeout = sandbox.run_section(folder, "consumer-timeout-local")
    assert timeout == (folder / "consumer-timeout.txt").read_text()
    # troubleshooting.rst: the worker holds a message due in an hour,
    # unacknowledged, in troubleshooting.DQ.
    log = tmp_path / "worker.log"
    sandbox.run(
        f"setsid {DRAMATIQ} tasks --processes 1 --threads 1 > {log} 2>&1 &", cwd=folder
    )
    [send, _] = marked_lines(folder / "commands.sh", "delay")
    sandbox.run(send.replace("python ", f"{PYTHON} ", 1), cwd=folder)
    expected = sorted((folder / "delayed.txt").read_text().splitlines())
    wait_for(
        lambda: (
            sorted(sandbox.run_section(folder, "queues-local").splitlines()) == expected
        ),
        timeout=30,
        what="queues-local to show the delayed message held",
        interval=0.5,
    )
    sandbox.run(f"kill -TERM -- -$(pgrep -o -f '{DRAMATIQ} tasks')", check=False)


def test_results_page_starts_its_servers_on_this_machine_only(machine) -> None:
    broker, sandbox = machine
    sandbox.run_section(EXAMPLES / "results" / broker, "start-broker-local")
    only_on_loopback(sandbox, PORTS[broker])
    only_on_loopback(sandbox, PORTS["redis"])  # Results live in Redis.


def test_reliability_page_starts_the_broker_on_this_machine_only(machine) -> None:
    broker, sandbox = machine
    # The section as it is at run time: another page's author owns it.
    sandbox.run_section(EXAMPLES / "reliability" / broker, "start-broker-local")
    time.sleep(1)  # A restart: let the old server go before asking.
    only_on_loopback(sandbox, PORTS[broker])
    if broker == "redis":
        # reliability.rst: it must answer yes.
        answer = sandbox.run("redis-cli config get appendonly").stdout.split()
        assert answer == ["appendonly", "yes"]
