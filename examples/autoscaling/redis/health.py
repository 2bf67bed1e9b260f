"""Liveness of the Dramatiq worker: a heartbeat from each of its processes.

A thread in each worker process writes a heartbeat file every few seconds,
unless a message has been running for too long. ``python health.py``
checks the files: the command a container's or a pod's liveness probe
runs. ``watchdog`` does the same check for systemd's watchdog.
"""

import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path

from dramatiq.middleware import Middleware

# Where the heartbeats go: a folder of this worker's own, which no other
# user of a shared /tmp can have made first.
FOLDER = Path(
    os.environ.get("HEARTBEAT_DIR", f"/tmp/flask-app-heartbeats-{os.getuid()}")
)
# A heartbeat every BEAT seconds; a process is hung after STALE seconds
# without one. A message running longer than STUCK seconds stops its
# process's heartbeats: keep STUCK above your actors' time limits.
BEAT = float(os.environ.get("HEARTBEAT_SECONDS", "5"))
STALE = float(os.environ.get("HEARTBEAT_STALE_SECONDS", "20"))
STUCK = float(os.environ.get("HEARTBEAT_STUCK_SECONDS", "900"))

logger = logging.getLogger(__name__)


class Heartbeat(Middleware):
    """Write this worker process's heartbeat while none of its messages is stuck."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}  # message id -> when it started
        self.path = FOLDER / str(os.getpid())
        self.stopped = threading.Event()
        self.lock = threading.Lock()  # No heartbeat after the file's removal.

    def after_worker_boot(self, broker, worker) -> None:
        FOLDER.mkdir(mode=0o700, parents=True, exist_ok=True)
        threading.Thread(target=self.beat, daemon=True).start()

    def after_worker_shutdown(self, broker, worker) -> None:
        # At the end: a worker finishing its tasks after SIGTERM still lives.
        with self.lock:
            self.stopped.set()
            self.path.unlink(missing_ok=True)

    def before_process_message(self, broker, message) -> None:
        self.started[message.message_id] = time.monotonic()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self.started.pop(message.message_id, None)

    after_skip_message = after_process_message

    def beat(self) -> None:
        while True:
            with self.lock:
                if self.stopped.is_set():
                    return
                now = time.monotonic()
                # A copy: the worker's threads add and remove messages meanwhile.
                oldest = min(self.started.copy().values(), default=now)
                if now - oldest < STUCK:
                    try:
                        self.path.touch()  # The heartbeat: its modification time.
                    except OSError as error:  # Say why liveness will fail.
                        logger.error("Cannot write the heartbeat: %s", error)
            self.stopped.wait(BEAT)


def problems() -> list[str]:
    """Why the worker is not alive: no process, or a process hung or stuck."""
    found, alive = [], 0
    for path in FOLDER.glob("[0-9]*"):
        if not running(int(path.name)):
            continue  # A process that ended without its cleanup: not ours now.
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            continue  # It ended meanwhile, and removed its file.
        alive += 1
        if age > STALE:
            found.append(f"worker process {path.name}: no heartbeat for {age:.0f} s")
    if not alive:
        found.append(f"no worker process has written a heartbeat in {FOLDER}")
    return found


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # It runs, as another user.
    return True


def watchdog() -> None:
    """A Dramatiq fork function: tell systemd the worker lives, while it does.

    systemd restarts the service when no WATCHDOG=1 arrives within its
    WatchdogSec (flask-app-worker.service).
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return  # Not started by systemd: nothing to tell.
    if address.startswith("@"):  # An abstract socket.
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        while True:
            if not problems():
                try:
                    notify.sendto(b"WATCHDOG=1", address)
                except OSError as error:  # Try again at the next beat.
                    logger.error("Cannot reach systemd's watchdog: %s", error)
            time.sleep(BEAT)


if __name__ == "__main__":
    if found := problems():
        sys.exit("Not alive: " + "; ".join(found))
    print("Alive.")
