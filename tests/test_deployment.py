"""examples/deployment: the compose, Procfile and systemd files, checked and run.

No Docker engine runs the tests, so compose.yaml is validated against the
Compose Specification's JSON schema (as check-jsonschema ships it) and its
promises are read from the parsed file. What a Procfile host or systemd
would run is started for real: gunicorn and the worker, over plain and TLS
connections, stopped with the signals those tools send.
"""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml

from support.examples import (
    BROKER_UNAVAILABLE,
    Example,
    example_params,
    with_empty_queues,
)
from support.processes import Process, free_port, port_is_open, wait_for

QUEUE = "deployment"
WEB_ADDRESS = "127.0.0.1:8000"  # where the Procfile's gunicorn listens
UNIT = "flask-app-worker.service"
THREADS = "--threads 4"  # the Procfile's gunicorn threads per process
HEROKU_GRACE = 30  # seconds from SIGTERM to SIGKILL on a Procfile host


@pytest.fixture(params=example_params("deployment"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.fixture(params=example_params("deployment"))
def files(request: pytest.FixtureRequest) -> Example:
    """The same folders, for the checks that only read files: no broker needed."""
    return Example(request.param)


def compose(example: Example) -> dict:
    return yaml.safe_load((example.path / "compose.yaml").read_text())


def env_file(path: Path) -> dict[str, str]:
    """The NAME=value lines of a .env or systemd EnvironmentFile file."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def unit(example: Example) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((example.path / UNIT).read_text())
    return parser


def split_env(command: str) -> tuple[dict[str, str], str]:
    """``env A=1 B=2 program args`` as ({"A": "1", "B": "2"}, "program args")."""
    words = shlex.split(command)
    variables = {}
    if words[0] == "env":
        words = words[1:]
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            variables[name] = value
    return variables, shlex.join(words)


def shutdown_timeout_ms(command: str) -> int:
    """The --worker-shutdown-timeout of a dramatiq command; Dramatiq's default."""
    words = shlex.split(command)
    if "--worker-shutdown-timeout" not in words:
        return 600_000
    return int(words[words.index("--worker-shutdown-timeout") + 1])


def unit_environment(example: Example) -> dict[str, str]:
    """Every Environment= assignment of the unit; configparser keeps only the last."""
    variables = {}
    for line in (example.path / UNIT).read_text().splitlines():
        if line.startswith("Environment="):
            for assignment in shlex.split(line.removeprefix("Environment=")):
                name, _, value = assignment.partition("=")
                variables[name] = value
    return variables


def seconds(duration: str) -> int:
    """Compose's "60s", "1m30s" and "2m" as seconds."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, f"not a duration of minutes and seconds: {duration!r}"
    minutes, secs = (int(part or 0) for part in parts.groups())
    return minutes * 60 + secs


@pytest.fixture
def running() -> Iterator[list[Process]]:
    """The processes a test starts, killed with their children when it ends."""
    processes: list[Process] = []
    yield processes
    for process in processes:
        process.kill_group()


def start_worker(
    example: Example, tmp_path: Path, running: list[Process], **env: str
) -> Process:
    worker = example.start("worker", tmp_path, env=env)
    running.append(worker)
    return worker


def start_web(
    example: Example,
    tmp_path: Path,
    running: list[Process],
    env: dict[str, str],
    app: str = "app:app",
    threads: str = THREADS,
) -> tuple[Process, int]:
    """The Procfile's gunicorn command as written, on a free port instead of 8000."""
    command = example.procfile_command("web")
    assert WEB_ADDRESS in command, "the Procfile's web line binds 127.0.0.1:8000"
    assert command.endswith(" app:app")
    assert f" {THREADS} " in command
    port = free_port()
    web = Process(
        command.replace(WEB_ADDRESS, f"127.0.0.1:{port}")
        .replace("app:app", app)
        .replace(THREADS, threads),
        cwd=example.path,
        # gunicorn puts its control socket in XDG_RUNTIME_DIR; keep it in the
        # test's folder, apart from other gunicorns on this machine.
        env={
            "XDG_RUNTIME_DIR": str(tmp_path),
            example.broker.url_variable: example.broker.url,
            **env,
        },
        log=tmp_path / "deployment-web.log",
    )
    running.append(web)
    return web, port


def post_the_guides_request(example: Example, port: int) -> dict:
    [curl] = example.commands("request")
    assert f"http://{WEB_ADDRESS}/" in curl, "the guide's request targets gunicorn"
    answer = subprocess.run(
        shlex.split(curl.replace(WEB_ADDRESS, f"127.0.0.1:{port}")),
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return json.loads(answer.stdout)


# The compose file -----------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(
    files: Example,
) -> None:
    result = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.compose-spec"]
        + [str(files.path / "compose.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_the_procfile_commands(files: Example) -> None:
    services = compose(files)["services"]
    # The worker runs the Procfile's worker command; the variables its env
    # prefix sets (on Redis, the poll cap) go to the container's environment.
    variables, command = split_env(files.procfile_command("worker"))
    assert services["worker"]["command"] == command
    for name, value in variables.items():
        assert services["worker"]["environment"][name] == value
    # gunicorn too, bound to every interface of its container instead of
    # 127.0.0.1, and published on the host's loopback only.
    web = files.procfile_command("web")
    assert services["web"]["command"] == web.replace(WEB_ADDRESS, "0.0.0.0:8000")
    assert services["web"]["ports"] == [f"{WEB_ADDRESS}:8000"]
    assert services["web"]["build"] == services["worker"]["build"] == "."


def test_web_and_worker_wait_for_a_healthy_broker(files: Example) -> None:
    services = compose(files)["services"]
    broker = services[files.broker.name]
    assert broker["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
    for name in ("web", "worker"):
        assert services[name]["depends_on"] == {
            files.broker.name: {"condition": "service_healthy"}
        }, name


def test_broker_keeps_its_data_in_a_named_volume(files: Example) -> None:
    config = compose(files)
    [volume] = config["services"][files.broker.name]["volumes"]
    name, _, target = volume.partition(":")
    assert name in config["volumes"]
    data = {"rabbitmq": "/var/lib/rabbitmq", "redis": "/data"}
    assert target == data[files.broker.name]


def test_worker_stops_on_sigterm_within_the_same_grace_as_systemd(
    files: Example,
) -> None:
    worker = compose(files)["services"]["worker"]
    assert worker["stop_signal"] == "SIGTERM"
    # A string command, which compose splits without a shell: dramatiq is
    # the container's main process, so SIGTERM reaches dramatiq itself.
    assert shlex.split(worker["command"])[0] == "dramatiq"
    grace = seconds(worker["stop_grace_period"])
    assert int(unit(files)["Service"]["TimeoutStopSec"]) == grace
    # The page's rule: the worker gives up on its tasks before the platform
    # kills it, Heroku's 30 s included; Dramatiq's default waits 10 minutes.
    timeout_ms = shutdown_timeout_ms(files.procfile_command("worker"))
    assert timeout_ms < min(grace, HEROKU_GRACE) * 1000


def strings(node: object) -> Iterator[str]:
    """Every string value in a parsed YAML document, comments left out."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def test_broker_url_holds_only_variables_from_the_env_file(files: Example) -> None:
    config = compose(files)
    worker_variables, _ = split_env(files.procfile_command("worker"))
    for name, others in (("web", []), ("worker", list(worker_variables))):
        environment = config["services"][name]["environment"]
        assert list(environment) == [files.broker.url_variable, *others], name
        url = urlsplit(environment[files.broker.url_variable])
        assert url.hostname == files.broker.name, "the broker's service name"
        assert re.fullmatch(r"\$\{\w+\}", url.password), "a variable, no secret"

    # Every ${NAME} comes from .env.example, whose secrets are left blank.
    uses = re.findall(r"\$\{(\w+)([^}]*)\}", " ".join(strings(config)))
    defaults = env_file(files.path / ".env.example")
    assert {name for name, _ in uses} == set(defaults)
    secrets = {name for name in defaults if "PASSWORD" in name}
    assert secrets and all(defaults[name] == "" for name in secrets)
    # Compose stops, naming the variable, when one is unset or empty.
    checked = {name for name, how in uses if how.startswith(":?")}
    assert checked == set(defaults)


def test_dotenv_is_kept_out_of_the_image(files: Example) -> None:
    ignored = (files.path / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored
    assert ".venv" in ignored


def test_image_is_an_official_python_slim_run_by_a_non_root_user(
    files: Example,
) -> None:
    instructions = [
        line.split(maxsplit=1)
        for line in (files.path / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(" ")
    ]
    [(_, image)] = [i for i in instructions if i[0] == "FROM"]
    version = re.fullmatch(r"python:(3\.\d+)-slim", image).group(1)
    supported = metadata.metadata("dramatiq").get_all("Classifier")
    assert f"Programming Language :: Python :: {version}" in supported
    # The user is set last, after everything that needs root: a user id
    # other than root's 0, which the image creates.
    keyword, uid = instructions[-1]
    assert keyword == "USER" and uid.isdigit() and int(uid) != 0
    assert any(
        i[0] == "RUN" and i[1].startswith("useradd") and f"--uid {uid} " in i[1]
        for i in instructions
    )
    # Requirements are installed before the code is copied, so a code change
    # does not reinstall them.
    assert instructions.index(["COPY", "requirements.txt ."]) < instructions.index(
        ["COPY", ". ."]
    )


# The systemd unit -----------------------------------------------------------


def test_systemd_unit_passes_systemd_analyze_verify(
    files: Example, tmp_path: Path
) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify insists that ExecStart's program exists: point it at this
    # virtualenv's dramatiq instead of /opt/flask-app/.venv/bin/dramatiq.
    text = (files.path / UNIT).read_text()
    exec_start = unit(files)["Service"]["ExecStart"].split()[0]
    (tmp_path / UNIT).write_text(text.replace(exec_start, shutil.which("dramatiq")))
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(tmp_path / UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # It reports unknown keys and bad values on stderr, and still exits 0.
    assert (result.returncode, result.stderr) == (0, "")


def test_systemd_unit_runs_the_procfile_worker_and_stops_it_gracefully(
    files: Example,
) -> None:
    service = unit(files)["Service"]
    venv_bin = f"{service['WorkingDirectory']}/.venv/bin/"
    variables, command = split_env(files.procfile_command("worker"))
    assert service["ExecStart"] == venv_bin + command
    assert unit_environment(files).items() >= variables.items()
    assert service["User"] not in ("", "root")
    # SIGTERM to dramatiq's main process only; it passes it on to its worker
    # processes. test_a_second_sigterm_makes_a_worker_process_quit_mid_task
    # shows what KillMode=control-group can do instead.
    assert service["KillSignal"] == "SIGTERM"
    assert service["KillMode"] == "mixed"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"].startswith("/etc/")
    assert unit(files)["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_commands_install_what_the_unit_reads(files: Example) -> None:
    service = unit(files)["Service"]
    commands = files.commands("systemd")
    user = service["User"]
    assert any(
        c.startswith("sudo useradd --system") and c.endswith(f" {user}")
        for c in commands
    )
    assert f"sudo python3 -m venv {service['WorkingDirectory']}/.venv" in commands
    assert (
        f"sudo install -m 600 worker.env.example {service['EnvironmentFile']}"
        in commands
    )
    assert f"sudo cp {UNIT} /etc/systemd/system/" in commands
    assert f"sudo systemctl enable --now {UNIT.removesuffix('.service')}" in commands


# Secrets and TLS ------------------------------------------------------------

PLACEHOLDER = r"(?:|<\w+>|\$\{\w+(?::\?[^}]*)?\})"


def test_no_file_holds_a_real_looking_secret(files: Example) -> None:
    assert not (files.path / ".env").exists(), "a filled-in .env, next to the example"
    for path in sorted(files.path.iterdir()):
        if not path.is_file():
            continue
        text = path.read_text()
        # The password part of every URL with credentials.
        for password in re.findall(r"://[^:/@\s]*:([^@\s]*)@", text):
            assert re.fullmatch(PLACEHOLDER, password), (path.name, password)
        # NAME=value, NAME: value and --requirepass value, NAME a secret's.
        for value in re.findall(
            r"(?:\b[A-Z_]*(?:PASS|AUTH|SECRET|TOKEN)[A-Z_]*[=:]|--requirepass)"
            r" *(\$\{[^}]*\}|\S*)",
            text,
        ):
            assert re.fullmatch(PLACEHOLDER, value), (path.name, value)


def tls_url(example: Example) -> str:
    """The URL the worker.env.example shows, with its placeholders filled in."""
    [(name, url)] = env_file(example.path / "worker.env.example").items()
    assert name == example.broker.url_variable
    values = {"user": "flask-app", "password": "s3cret", "host": "mq.example.com"}
    return re.sub(r"<(\w+)>", lambda m: values.get(m[1], m[1]), url)


def test_tls_url_from_the_env_file_reaches_the_broker_settings(
    files: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(files.broker.url_variable, tls_url(files))
    broker = files.load("tasks", monkeypatch).broker

    if files.broker.name == "rabbitmq":
        parameters = broker.parameters
        assert parameters.ssl_options is not None  # amqps: TLS
        assert (parameters.host, parameters.port) == ("mq.example.com", 5671)
        assert parameters.virtual_host == "vhost"
        assert parameters.credentials.username == "flask-app"
        assert parameters.credentials.password == "s3cret"
    else:
        import redis

        pool = broker.client.connection_pool
        assert pool.connection_class is redis.SSLConnection  # rediss: TLS
        kwargs = pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"]) == ("mq.example.com", 6380)
        assert (kwargs["password"], kwargs["db"]) == ("s3cret", 0)


class TlsProxy:
    """A broker with TLS: accepts TLS on a free port, relays the plain bytes."""

    def __init__(self, target: tuple[str, int], certs: Path) -> None:
        self.target = target
        self.connections = 0
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs / "cert.pem", certs / "key.pem")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self.call(
            asyncio.start_server(self.relay, "127.0.0.1", 0, ssl=context)
        )
        self.port = self.server.sockets[0].getsockname()[1]

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    async def relay(
        self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter
    ) -> None:
        # asyncio calls this once the TLS handshake has succeeded.
        self.connections += 1
        try:
            broker, to_broker = await asyncio.open_connection(*self.target)
            await asyncio.gather(
                pipe(client, to_broker), pipe(broker, to_client), return_exceptions=True
            )
        except asyncio.CancelledError:
            to_client.close()  # close() cancelled this relay: end quietly.

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA (ca.pem) and a certificate for localhost that it signed."""
    folder = tmp_path_factory.mktemp("certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for command in (
        ["-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Test CA"],
        ["-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost"]
        + ["-addext", "basicConstraints=critical,CA:FALSE"]
        + ["-CA", "ca.pem", "-CAkey", "ca.key"],
    ):
        subprocess.run(
            ["openssl", "req", "-x509", "-days", "1", *ec, *command],
            cwd=folder,
            capture_output=True,
            check=True,
            timeout=30,
        )
    return folder


@pytest.fixture
def tls_proxy(example: Example, certs: Path) -> Iterator[TlsProxy]:
    proxy = TlsProxy(example.broker.address, certs)
    yield proxy
    proxy.close()


def through(example: Example, proxy: TlsProxy) -> str:
    """The test broker's URL with TLS: amqps:// or rediss://, to localhost:PORT."""
    url = urlsplit(example.broker.url)
    userinfo = url.netloc.rpartition("@")[0]
    netloc = (
        f"{userinfo}@localhost:{proxy.port}" if userinfo else f"localhost:{proxy.port}"
    )
    return urlunsplit(url._replace(scheme=url.scheme + "s", netloc=netloc))


def test_view_queues_over_tls_and_answers_503_for_an_untrusted_broker(
    example: Example,
    tls_proxy: TlsProxy,
    certs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = through(example, tls_proxy)
    # SSL_CERT_FILE names the CAs that OpenSSL trusts; pika reads it when
    # tasks.py builds the broker, redis-py when it connects.
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "ca.pem"))
    app = load_app(example, monkeypatch, url)
    response = app.test_client().post("/add", data={"x": "1", "y": "2"})
    assert response.status_code == 202
    assert example.broker.pending(QUEUE) == 1

    # The same URL, trusting a CA that did not sign the broker's certificate.
    monkeypatch.setenv("SSL_CERT_FILE", str(certs / "cert.pem"))
    app = load_app(example, monkeypatch, url)
    response = app.test_client().post("/add", data={"x": "3", "y": "4"})
    assert response.status_code == 503
    assert response.get_json() == BROKER_UNAVAILABLE
    assert example.broker.pending(QUEUE) == 1


def load_app(example: Example, monkeypatch: pytest.MonkeyPatch, url: str):
    """Import app.py with ``url`` in the environment; the tests' own URL stays."""
    plain = example.broker.url
    monkeypatch.setenv(example.broker.url_variable, url)
    app = example.load("app", monkeypatch).app  # tasks.py reads the URL now.
    monkeypatch.setenv(example.broker.url_variable, plain)
    return app


# The Procfile, run for real -------------------------------------------------


def test_procfile_gunicorn_answers_on_loopback_and_the_worker_runs_the_task(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    worker = start_worker(example, tmp_path, running)
    web, port = start_web(example, tmp_path, running, {})
    wait_for(lambda: port_is_open(port), timeout=15, what="gunicorn")

    assert post_the_guides_request(example, port)["message_id"]
    worker.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)

    assert web.terminate(timeout=35) == 0
    assert worker.terminate(timeout=15) == 0
    assert web.output().count("Booting worker with pid") == 2  # --workers 2
    assert "Using worker: gthread" in web.output()  # --threads 4


def test_web_and_worker_use_a_tls_url_from_the_environment(
    example: Example,
    tmp_path: Path,
    running: list[Process],
    tls_proxy: TlsProxy,
    certs: Path,
) -> None:
    env = {
        example.broker.url_variable: through(example, tls_proxy),
        "SSL_CERT_FILE": str(certs / "ca.pem"),
    }
    worker = start_worker(example, tmp_path, running, **env)
    _, port = start_web(example, tmp_path, running, env)
    wait_for(lambda: port_is_open(port), timeout=15, what="gunicorn")

    assert post_the_guides_request(example, port)["message_id"]
    worker.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)
    # Both processes went through the TLS port: the plain one is not in env.
    assert tls_proxy.connections >= 2


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


# Stopping the worker --------------------------------------------------------

# A worker module for the next tests: one slow actor on the example's queue.
SLOW = """
import time

import dramatiq

import tasks  # noqa: F401  (sets the example's broker)


@dramatiq.actor(queue_name="deployment", actor_name="deployment_slow")
def slow() -> None:
    print("task started", flush=True)
    time.sleep(3)
    print("task finished", flush=True)
"""


@pytest.fixture
def slow_task(
    example: Example,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    running: list[Process],
) -> Iterator[Process]:
    """The Procfile's worker plus the slow actor, once the actor has started."""
    (tmp_path / "deployment_slow.py").write_text(textwrap.dedent(SLOW))
    monkeypatch.syspath_prepend(str(tmp_path))
    example.load("deployment_slow", monkeypatch).slow.send()
    # dramatiq wants its modules right after the broker module: tasks.
    command = example.procfile_command("worker")
    assert " dramatiq tasks " in f" {command} "
    worker = Process(
        command.replace("dramatiq tasks", "dramatiq tasks deployment_slow", 1)
        + " --processes 1 --threads 1",
        cwd=example.path,
        env={
            example.broker.url_variable: example.broker.url,
            "PYTHONPATH": str(tmp_path),
        },
        log=tmp_path / "slow-worker.log",
    )
    running.append(worker)
    worker.wait_for_output("task started", timeout=20)
    yield worker
    worker.kill_group()
    drop_unacked(example)


def test_sigterm_to_the_main_process_lets_the_running_task_finish(
    slow_task: Process,
) -> None:
    # What docker compose stop and systemd's KillMode=mixed do.
    assert slow_task.terminate(timeout=30) == 0
    assert "task finished" in slow_task.output()


def test_a_second_sigterm_makes_a_worker_process_quit_mid_task(
    slow_task: Process,
) -> None:
    # What systemd's default KillMode=control-group often does: SIGTERM to
    # every process, so each worker process gets it from systemd, then once
    # more from dramatiq's main process. Sent here in that order, on purpose.
    [child] = re.findall(
        r"\[PID (\d+)\] \[MainThread\] \[dramatiq\.WorkerProcess", slow_task.output()
    )
    os.kill(int(child), signal.SIGTERM)
    slow_task.wait_for_output("Stopping worker process...", timeout=10)
    os.kill(slow_task.popen.pid, signal.SIGTERM)

    assert slow_task.popen.wait(timeout=30) != 0
    assert "Killing worker process..." in slow_task.output()
    assert "task finished" not in slow_task.output()


def drop_unacked(example: Example) -> None:
    """Forget the killed task, which Redis would requeue in a minute or more."""
    if example.broker.name == "redis":
        import redis

        client = redis.Redis.from_url(example.broker.url)
        for key in client.scan_iter(f"dramatiq:__acks__.*.{QUEUE}"):
            client.delete(key)
