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

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from markers import marked_lines
from support.examples import EXAMPLES
from support.output import check_shown_output
from support.processes import wait_for

PYTHON = sys.executable
DRAMATIQ = str(Path(sys.executable).parent / "dramatiq")
PORTS = {"rabbitmq": 5672, "redis": 6379}
# An interface of the sandbox other than loopback, with an address from each
# family's documentation range: a server bound to every interface answers
# there, one bound to 127.0.0.1 refuses.
OTHER_ADDRESSES = ("192.0.2.1", "2001:db8::1")
# What the sandbox hides behind empty tmpfs mounts: where Debian's packages
# keep the brokers' settings, data, logs and pid files.
MASKED = (
    "/etc/rabbitmq",
    "/var/lib/rabbitmq",
    "/var/log/rabbitmq",
    "/var/lib/redis",
    "/var/log/redis",
    "/run",
)
SETUP = f"""
ip link set lo up
ip link add probe type veth peer name probe-peer
ip address add {OTHER_ADDRESSES[0]}/24 dev probe
ip address add {OTHER_ADDRESSES[1]}/64 dev probe nodad
ip link set probe up
ip link set probe-peer up
for folder in {" ".join(MASKED)}; do
  mount -t tmpfs -o mode=755 sandbox "$folder"
done
chown rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
chown redis:redis /var/lib/redis /var/log/redis
"""


def sandbox_works() -> bool:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("nsenter")):
        return False
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "--pid", "--fork", "true"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


pytestmark = [
    pytest.mark.local_brokers,
    pytest.mark.skipif(
        not sandbox_works() or not shutil.which("rabbitmq-server"),
        reason="needs root, unshare, nsenter, and Debian's rabbitmq-server and "
        "redis-server packages",
    ),
]


class Sandbox:
    """A machine of its own for the brokers: namespaces held by one ``sleep``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.unshare = subprocess.Popen(
            [
                "unshare",
                "--net",
                "--mount",
                "--pid",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                "sleep",
                "infinity",
            ],
            start_new_session=True,
        )
        children = Path(f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children")
        wait_for(children.read_text, timeout=10, what="the sandbox's first process")
        # PID 1 inside: when it dies, the kernel kills the rest of the sandbox.
        self.pid = int(children.read_text().split()[0])
        self.run(SETUP)
        # Nothing of the machine's shows through before anything starts.
        masked = self.run("findmnt --noheadings --output FSTYPE /var/lib/rabbitmq")
        assert masked.stdout.strip() == "tmpfs"
        assert not self.run("ss --listening --tcp --numeric --no-header").stdout

    def run(
        self, script: str, *, cwd: Path | str = "/", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``script`` with sh -e in the sandbox, as root, from ``cwd``."""
        return subprocess.run(
            [
                "nsenter",
                f"--target={self.pid}",
                "--net",
                "--mount",
                "--pid",
                f"--wd={cwd}",
                "sh",
                "-ec",
                script,
            ],
            env={**os.environ, "HOME": str(self.home), "PYTHONUNBUFFERED": "1"},
            capture_output=True,
            text=True,
            timeout=180,
            check=check,
        )

    def run_section(self, folder: Path, section: str) -> str:
        """Run a commands.sh section as written, from its folder; return its output."""
        script = "\n".join(
            as_root(line) for line in marked_lines(folder / "commands.sh", section)
        )
        done = self.run("set -x\n" + script, cwd=folder, check=False)
        assert done.returncode == 0, f"{section} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def answering(self, port: int) -> dict[str, bool]:
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
        lines = self.run(f"{PYTHON} -c {shlex.quote(check)}").stdout.split("\n")
        return {
            host: state == "open"
            for host, state in (line.split() for line in lines if line)
        }

    def close(self) -> None:
        os.kill(self.pid, 9)
        self.unshare.wait(timeout=30)


def as_root(line: str) -> str:
    """``line`` as it runs here, where everything runs as root.

    sudo is not installed on this machine, and the tests run as root, where
    a leading ``sudo`` changes nothing these commands rely on. Dropping the
    word keeps the machine as it is, rather than installing sudo for it.
    """
    command = line.removeprefix("sudo ")
    assert "sudo" not in command.split(), f"sudo inside a command: {line}"
    return command


def only_on_loopback(sandbox: Sandbox, port: int) -> None:
    expected = {"127.0.0.1": True, **dict.fromkeys(OTHER_ADDRESSES, False)}
    wait_for(
        lambda: sandbox.answering(port)["127.0.0.1"],
        timeout=30,
        what=f"a server on 127.0.0.1:{port}",
        interval=0.5,
    )
    assert sandbox.answering(port) == expected


@pytest.fixture(scope="module", params=list(PORTS))
def machine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Sandbox]]:
    """One sandbox per broker, shared by this module's tests in file order."""
    sandbox = Sandbox(tmp_path_factory.mktemp(f"home-{request.param}"))
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
