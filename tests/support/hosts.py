"""Machines of their own on this one: sandboxes, and hosts on a private network.

A Sandbox has its own network, mount and PID namespaces, held by one
``sleep``: killing that first process ends everything started inside. The
local_brokers tests start a broker in one, on a loopback of its own. The
Scale out tests (tests/test_hosts_*.py) give each sandbox an address on a
private network, a bridge on this machine with veth cables, and call it a
host: the broker, the database, the web app and each worker on its own.

The network is 198.51.100.0/24, a range kept for documentation (RFC 5737)
that no real network routes: the addresses the page shows. This machine
itself is 198.51.100.1 on it, the reader's laptop and the internet.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from markers import marked_lines
from support.processes import wait_for

NETWORK = "198.51.100"
# Where Debian's packages keep the brokers' and PostgreSQL's settings, data,
# logs and pid files: a sandbox that runs one of them hides the machine's
# behind empty tmpfs mounts.
SERVICE_FOLDERS = (
    "/etc/rabbitmq",
    "/var/lib/rabbitmq",
    "/var/log/rabbitmq",
    "/etc/redis",
    "/var/lib/redis",
    "/var/log/redis",
    "/run",
)
# Each masked folder is empty, but for the settings file the package installs.
PACKAGE_FILES = {"/etc/redis": "redis.conf"}
OWNERS = {
    "/etc/rabbitmq": "rabbitmq",
    "/var/lib/rabbitmq": "rabbitmq",
    "/var/log/rabbitmq": "rabbitmq",
    "/etc/redis": "redis",
    "/var/lib/redis": "redis",
    "/var/log/redis": "redis",
}


def sandboxes_work() -> bool:
    """Whether this process may make namespaces (root, unshare, nsenter, ip)."""
    if os.geteuid() != 0 or not all(map(shutil.which, ("unshare", "nsenter", "ip"))):
        return False
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "--pid", "--fork", "true"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


class Sandbox:
    """A machine of its own: namespaces held by one ``sleep``.

    ``masked`` folders are empty tmpfs mounts inside, owned as Debian's
    packages own them; ``setup`` runs first, as root.
    """

    def __init__(
        self, home: Path, *, masked: tuple[str, ...] = (), setup: str = ""
    ) -> None:
        self.home = home
        self.unshare = subprocess.Popen(
            [
                "unshare",
                "--uts",
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
            # unshare complains on its way out when its child is killed.
            stderr=subprocess.DEVNULL,
        )
        children = Path(f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children")
        wait_for(children.read_text, timeout=10, what="the sandbox's first process")
        # PID 1 inside: when it dies, the kernel kills the rest of the sandbox.
        self.pid = int(children.read_text().split()[0])
        mounts = ""
        for folder in masked:
            kept = PACKAGE_FILES.get(folder)
            if kept:
                mounts += f"cp -p {folder}/{kept} {home}/{kept}\n"
            mounts += f"mount -t tmpfs -o mode=755 sandbox {folder}\n"
            if folder in OWNERS:
                mounts += f"chown {OWNERS[folder]}: {folder}\n"
            if kept:
                mounts += f"mv {home}/{kept} {folder}/{kept}\n"
        self.run(f"ip link set lo up\n{mounts}{setup}")

    def run(
        self,
        script: str,
        *,
        cwd: Path | str = "/",
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``script`` with sh -e in the sandbox, as root, from ``cwd``."""
        return subprocess.run(
            self.command(script, cwd),
            env={
                **os.environ,
                "HOME": str(self.home),
                "PYTHONUNBUFFERED": "1",
                **(env or {}),
            },
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def start(
        self, script: str, log: Path, *, cwd: Path | str, env: dict[str, str]
    ) -> subprocess.Popen:
        """Start ``script`` in the background, its output in ``log``."""
        with log.open("ab") as output:
            return subprocess.Popen(
                self.command(script, cwd),
                env={**os.environ, "HOME": str(self.home), **env},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def command(self, script: str, cwd: Path | str) -> list[str]:
        return [
            "nsenter",
            f"--target={self.pid}",
            "--uts",
            "--net",
            "--mount",
            "--pid",
            f"--wd={cwd}",
            "sh",
            "-ec",
            script,
        ]

    def run_section(
        self, folder: Path, section: str, env: dict[str, str] | None = None
    ) -> str:
        """Run a commands.sh section as written, from its folder; return its output."""
        script = "\n".join(
            as_root(line) for line in marked_lines(folder / "commands.sh", section)
        )
        done = self.run("set -x\n" + script, cwd=folder, check=False, env=env)
        assert done.returncode == 0, f"{section} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def close(self) -> None:
        if self.unshare.poll() is None:
            os.kill(self.pid, 9)
            self.unshare.wait(timeout=30)


def as_root(line: str) -> str:
    """``line`` as it runs here, where everything runs as root.

    sudo is not installed on this machine, and the tests run as root, where
    ``sudo`` at the start of a command (or after a pipe) changes nothing
    these commands rely on. Dropping the word keeps the machine as it is,
    rather than installing sudo for it.
    """
    command = re.sub(r"(^\s*|\|\s*)sudo ", r"\1", line)
    assert "sudo" not in command.split(), f"sudo inside a command: {line}"
    return command


class Lan:
    """A private network: a bridge on this machine, at NETWORK.1."""

    def __init__(self) -> None:
        # Interface names hold 15 characters: a short prefix, our PID and
        # the number of this network among ours.
        self.tag = f"gt{os.getpid() % 10_000}n{next(_networks)}"
        self.bridge = f"{self.tag}br"
        self.hosts: list[Host] = []
        # One network at a time on this machine: a bridge left by a test
        # process that was killed would take the same addresses.
        for link in ip("-brief", "link").splitlines():
            name = link.split()[0].partition("@")[0]
            if name.startswith("gt") and name[2:3].isdigit():
                unplug(name)
        self.names = Path(tempfile.mkdtemp(prefix="lan-")) / "hosts"
        self.names.write_text("127.0.0.1 localhost\n")
        ip("link", "add", self.bridge, "type", "bridge")
        ip("address", "add", f"{NETWORK}.1/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def host(self, name: str, number: int, *, masked: tuple[str, ...] = ()) -> Host:
        """A new host at NETWORK.``number``, plugged into this network.

        ``name`` is its host name, which every host of the network resolves
        (a hosts file they share, bound over /etc/hosts), as your DNS would.
        """
        address = f"{NETWORK}.{number}"
        with self.names.open("a") as names:
            names.write(f"{address} {name}\n")
        home = Path(tempfile.mkdtemp(prefix=f"host-{name}-"))
        cable = f"{self.tag}h{number}"
        # The cable of a host that stopped at this address: unplug it.
        unplug(cable)
        host = Host(name, address, home, masked, cable, self.names)
        ip("link", "add", cable, "type", "veth", "peer", "name", "eth0", "netns",
           str(host.pid))  # fmt: skip
        ip("link", "set", cable, "master", self.bridge, "up")
        host.run(f"ip address add {host.address}/24 dev eth0\nip link set eth0 up")
        self.hosts.append(host)
        return host

    def close(self) -> None:
        for host in self.hosts:
            host.close()
            shutil.rmtree(host.home, ignore_errors=True)
        ip("link", "delete", self.bridge)
        shutil.rmtree(self.names.parent, ignore_errors=True)


class Host(Sandbox):
    """A sandbox with an address on a Lan."""

    def __init__(
        self,
        name: str,
        address: str,
        home: Path,
        masked: tuple[str, ...],
        cable: str,
        names: Path,
    ) -> None:
        super().__init__(
            home,
            masked=masked,
            setup=f"hostname {name}\nmount --bind {names} /etc/hosts\n",
        )
        self.name = name
        self.address = address
        self.cable = cable

    def close(self) -> None:
        """End every process on the host, and unplug its cable.

        A dead host's network can outlive its processes for minutes, while
        its orphaned connections time out: the cable would stay with it.
        """
        super().close()
        unplug(self.cable)

    def power_off(self) -> None:
        """Go the way a host that loses power goes: without a word.

        The link goes down first, so that not even the kernel's closing of
        its connections reaches the network; then everything on it dies.
        """
        self.run("ip link set eth0 down")
        self.close()


_networks = itertools.count()


def unplug(cable: str) -> None:
    """Delete the veth pair ``cable`` (with its other end) if it exists."""
    subprocess.run(["ip", "link", "delete", cable], capture_output=True, check=False)


def ip(*args: str) -> str:
    return subprocess.run(
        ["ip", *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout
