"""Stop and start the shared RabbitMQ or Redis as its admin would, and put it back.

The reliability suite (nox -s reliability) restarts the broker under
traffic and fills it; these helpers always leave it running as they found it.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.brokers import Broker
from support.examples import Example
from support.processes import wait_for


class Control:
    """Stop and start the example's broker, on this machine, as its admin would."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        host, port = broker.address
        tool = "rabbitmqctl" if broker.name == "rabbitmq" else "redis-server"
        if host not in ("127.0.0.1", "localhost", "::1"):
            pytest.fail(
                f"This test stops and starts {broker.label}, so it must run on the "
                f"broker's machine; {broker.url_variable} points at {host}:{port}.",
                pytrace=False,
            )
        if not shutil.which(tool):
            pytest.fail(
                f"This test stops and starts {broker.label} with {tool}, which is "
                f"not on this machine's PATH.",
                pytrace=False,
            )
        self.redis_config: dict[str, str] = {}
        if broker.name == "redis":
            self.redis_config = self.client().config_get("*")

    def client(self):
        import redis

        return redis.Redis.from_url(self.broker.url)

    def stop(self) -> None:
        if self.broker.name == "rabbitmq":
            # The node stays up; the AMQP application and its port stop.
            run_admin("rabbitmqctl", "stop_app")
        else:
            self.client().shutdown(nosave=True)
        wait_for(
            lambda: not self.broker.is_reachable(timeout=0.2),
            timeout=30,
            what=f"{self.broker.label} to stop",
        )

    def start(self, **redis_settings: str) -> None:
        """Start the broker; Redis with its configuration, ``redis_settings`` on top."""
        if self.broker.name == "rabbitmq":
            run_admin("rabbitmqctl", "start_app")
            run_admin("rabbitmqctl", "await_startup")
        else:
            config = {**self.redis_config, **redis_settings}
            # The settings a restart needs to come back the same, and to find
            # its data files.
            names = [
                "port", "bind", "dir", "logfile", "save", "appendonly",
                "appendfsync", "appenddirname", "dbfilename", "databases",
            ]  # fmt: skip
            arguments = ["--daemonize", "yes"]
            for name in names:
                arguments += [f"--{name}", *(config[name].split() or [""])]
            run_admin("redis-server", *arguments)
        wait_for(
            self.broker.is_reachable, timeout=60, what=f"{self.broker.label} to start"
        )
        if self.broker.name == "redis":
            wait_for(self.redis_ready, timeout=60, what="Redis to load its data")

    def redis_ready(self) -> bool:
        import redis

        try:
            return self.client().info("persistence")["loading"] == 0
        except redis.exceptions.BusyLoadingError:
            return False

    def ensure_running(self) -> None:
        """Start the broker again if a test left it stopped."""
        if not self.broker.is_reachable():
            self.start()

    @contextmanager
    def down(self) -> Iterator[None]:
        """Stop the broker for the ``with`` block; it runs again after it, always."""
        try:
            self.stop()
            yield
        finally:
            self.ensure_running()


def run_admin(*command: str) -> str:
    """Run an admin command; its output."""
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{shlex.join(command)}: {result.stderr}"
    return result.stdout


def redis_settings_of_the_guide(example: Example) -> dict[str, str]:
    """The redis-server options of the guide's start command, e.g. appendonly=yes."""
    command = " ".join(example.commands("start-broker"))
    options = shlex.split(command.partition(" redis-server ")[2])
    assert options, "the guide starts Redis with redis-server options"
    return {
        name.removeprefix("--"): value
        for name, value in zip(options[::2], options[1::2], strict=True)
    }


@contextmanager
def persistence(example: Example, control: Control) -> Iterator[dict[str, str]]:
    """The broker as the guide sets it up: Redis with the append-only file.

    RabbitMQ needs nothing: Dramatiq's queues are durable and its messages
    persistent. For Redis, the test turns on what the guide's start command
    does, then restores the configuration it found, and deletes the
    append-only files it made.
    """
    if example.broker.name == "rabbitmq":
        yield {}
        return
    settings = redis_settings_of_the_guide(example)
    client = control.client()
    before = {name: control.redis_config[name] for name in settings}
    config = control.redis_config
    aof_dir = Path(config["dir"]) / config["appenddirname"]
    aof_existed = aof_dir.exists()
    for name, value in settings.items():
        client.config_set(name, value)
    try:
        if settings.get("appendonly") == "yes":
            # Turning it on writes the whole data set to a new file first.
            wait_for(
                lambda: aof_written(client),
                timeout=60,
                what="Redis's append-only file",
            )
        yield settings
    finally:
        if not example.broker.is_reachable():
            control.start(**settings)
        for name, value in before.items():
            client.config_set(name, value)
        if not aof_existed:
            shutil.rmtree(aof_dir, ignore_errors=True)


def aof_written(client) -> bool:
    info = client.info("persistence")
    return (
        info["aof_enabled"] == 1
        and info["aof_rewrite_in_progress"] == 0
        and info["aof_rewrite_scheduled"] == 0
    )
