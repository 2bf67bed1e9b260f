"""Run the commands the guide shows as real processes, and wait on them with deadlines."""

from __future__ import annotations

import itertools
import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path


def wait_for(
    condition: Callable[[], object], *, timeout: float, what: str, interval=0.05
) -> None:
    """Poll ``condition`` until it is true; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def stays_false(
    condition: Callable[[], object], seconds: float, interval: float = 0.1
) -> bool:
    """Poll ``condition`` for ``seconds``; True if it never became true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return False
        time.sleep(interval)
    return True


def rerun_until(
    run: Callable[[], str], shows: Callable[[str], bool], *, seconds: float = 60
) -> None:
    """Run a crash again until its output ``shows`` the page's lines.

    Dramatiq's log thread can stop before it copies a process's last lines
    (dramatiq#171), so a crash prints a little less in some runs, and under
    load in several runs in a row. Fails after ``seconds`` with the last output.
    """
    deadline = time.monotonic() + seconds
    outputs: list[str] = []
    while not outputs or time.monotonic() < deadline:
        outputs.append(run())
        if shows(outputs[-1]):
            return
    raise AssertionError(
        f"none of {len(outputs)} runs printed what the page shows; "
        f"the last:\n{outputs[-1]}"
    )


def parallel_number() -> int | None:
    """This pytest-xdist process's number (gw3 is 3), or None outside xdist.

    Counted from GUIDE_FIRST_TEST_PROCESS (default 0): plain `nox` runs the
    two brokers' smoke tests at once, and gives each run numbers of its own,
    so that their test processes never share a port block or a namespace.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return None
    return int(os.environ.get("GUIDE_FIRST_TEST_PROCESS", "0")) + int(
        worker.removeprefix("gw")
    )


def free_port() -> int:
    """A TCP port nothing uses now, for a server a test is about to start.

    Not one from bind(0): those come from the kernel's ephemeral range, where
    it also picks the local ports of outgoing connections, and a worker's
    connection to the broker could take the port before the server binds it.
    Each pytest-xdist process hands out ports in turn from a block of its own
    below that range, so parallel tests never get the same one either.
    """
    global _ports
    if _ports is None:
        _ports = _port_cycle()
    for _ in range(PORTS_PER_PROCESS):
        port = next(_ports)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # Taken by something else on this machine.
            return port
    raise RuntimeError(f"no free port in this test process's block at {port}")


def _port_cycle() -> Iterator[int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            ephemeral_low = int(ranges.read().split()[0])
    except FileNotFoundError:
        ephemeral_low = 49_152  # Not Linux: the IANA range, as macOS uses.
    first = FIRST_TEST_PORT + (parallel_number() or 0) * PORTS_PER_PROCESS
    assert first + PORTS_PER_PROCESS <= ephemeral_low, "test ports overlap"
    return itertools.cycle(range(first, first + PORTS_PER_PROCESS))


FIRST_TEST_PORT = 20_000
PORTS_PER_PROCESS = 1_000
_ports: Iterator[int] | None = None


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Process:
    """A command started in its own session, so it can be stopped as a group."""

    def __init__(
        self, command: str, *, cwd: Path, env: Mapping[str, str], log: Path
    ) -> None:
        self.command = command
        self.log = log
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(
            shlex.split(command),
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, *, timeout: float) -> None:
        wait_for(
            lambda: text in self.output() or self.popen.poll() is not None,
            timeout=timeout,
            what=f"{text!r} from `{self.command}`",
        )
        assert text in self.output(), (
            f"`{self.command}` exited with {self.popen.returncode} before "
            f"printing {text!r}. Its output:\n{self.output()}"
        )

    def terminate(self, *, timeout: float) -> int:
        """Send SIGTERM to the main process, as `kill PID` would; return its exit code."""
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"`{self.command}` still running {timeout} s after SIGTERM. "
                f"Its output:\n{self.output()}"
            ) from None

    def kill_group(self) -> None:
        """Kill the process and every child it started; safe to call twice."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        self._log_file.close()


def group_descriptors(pgid: int) -> list[str]:
    """What each open file descriptor of a process group points to."""
    targets = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[2]) != pgid:
                continue
            targets += process_descriptors(int(stat.parent.name))
        except OSError:
            continue  # The process went away meanwhile.
    return targets


def process_descriptors(pid: int) -> list[str]:
    """What each open file descriptor of one process points to."""
    targets = []
    for fd in list(Path(f"/proc/{pid}/fd").iterdir()):
        try:
            targets.append(fd.readlink().name)
        except OSError:
            continue  # This descriptor closed meanwhile; count the others.
    return targets


def broker_connections(pgid: int, broker_port: int) -> int:
    """TCP connections to ``broker_port`` the processes of a group hold."""
    return _connections(group_descriptors(pgid), broker_port)


def process_connections(pid: int, port: int) -> int:
    """TCP connections to ``port`` that one process holds, not its children."""
    return _connections(process_descriptors(pid), port)


def _connections(descriptors: list[str], port: int) -> int:
    inodes = {target.removeprefix("socket:[").rstrip("]") for target in descriptors}
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rpartition(":")[2], 16)
            established = fields[3] == "01"
            if remote_port == port and established and fields[9] in inodes:
                count += 1
    return count


def open_files(pgid: int) -> int:
    """File descriptors the processes of a group hold open."""
    return len(group_descriptors(pgid))
