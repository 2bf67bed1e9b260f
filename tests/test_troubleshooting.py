"""examples/troubleshooting: reproduce each problem the page lists, then its fix.

Each test runs the broken module the page shows with a real worker and a real
broker, checks that the reader sees the error text the page shows, then runs
the fixed code and checks the error is gone. Symptoms that take minutes or
days (retry backoff, Redis redelivery, RabbitMQ's consumer_timeout) are
reproduced in a bounded way that still shows their mechanism.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from support.brokers import RABBITMQ
from support.examples import (
    EXAMPLES,
    Example,
    assert_requirements_installed,
    example_params,
    with_empty_queues,
)
from support.processes import Process, free_port, port_is_open, wait_for

QUEUE = "troubleshooting"
BOOTED = "is booting up."
WEB_ADDRESS = "127.0.0.1:8000"


def with_settled_empty_queues(example: Example) -> Iterator[Example]:
    """``with_empty_queues()``, then flush again once killed workers let go of their messages.

    The ``running`` fixture has killed the test's workers by then, but RabbitMQ
    may requeue what they held after with_empty_queues() flushed, and Redis keeps it.
    """
    yield from with_empty_queues(example, queues=(QUEUE,))
    if example.broker.name == "rabbitmq":
        wait_for(
            lambda: not rabbitmq_consumers(example),
            timeout=15,
            what="killed workers to disconnect",
        )
    drop_unacked(example)
    example.broker.flush(QUEUE)


def rabbitmq_consumers(example: Example) -> int:
    import pika

    parameters = pika.URLParameters(example.broker.url)
    with pika.BlockingConnection(parameters) as connection:
        total = 0
        for name in (QUEUE, f"{QUEUE}.DQ"):
            channel = connection.channel()
            try:
                total += channel.queue_declare(name, passive=True).method.consumer_count
            except pika.exceptions.ChannelClosedByBroker:
                pass  # The queue does not exist yet.
        return total


def drop_unacked(example: Example) -> None:
    """Forget messages killed Redis workers held; Redis would requeue them later."""
    if example.broker.name == "redis":
        import redis

        client = redis.Redis.from_url(example.broker.url)
        for key in client.scan_iter(f"dramatiq:__acks__.*.{QUEUE}*"):
            client.delete(key)


@pytest.fixture(params=example_params("troubleshooting"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_settled_empty_queues(Example(request.param))


def only(broker: str) -> list:
    return [p for p in example_params("troubleshooting") if p.id == broker]


@pytest.fixture(params=only("rabbitmq"))
def rabbitmq_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_settled_empty_queues(Example(request.param))


@pytest.fixture
def running() -> Iterator[list[Process]]:
    """Processes a test starts; all killed, with their children, at the end."""
    processes: list[Process] = []
    yield processes
    for process in processes:
        process.kill_group()


def normalize(text: str) -> list[str]:
    """Blank out what changes between runs: times, ids, line numbers, version."""
    text = re.sub(r"^\[[\d :,-]+\]", "[TIME]", text, flags=re.MULTILINE)
    text = re.sub(r"\[PID \d+\]", "[PID N]", text)
    text = re.sub(r"\[Thread-\d+\]", "[Thread-N]", text)
    text = re.sub(r"'[0-9a-f-]{36}'", "'MESSAGE-ID'", text)
    text = re.sub(r"in \d+ milliseconds", "in N milliseconds", text)
    text = re.sub(r"\.py:\d+ ", ".py:N ", text)
    text = re.sub(r"Dramatiq '[^']+'", "Dramatiq 'VERSION'", text)
    return [line.rstrip() for line in text.splitlines()]


def read(example: Example, name: str) -> str:
    return (example.path / name).read_text()


def assert_shown_in_order(example: Example, shown_file: str, output: str) -> None:
    """The lines of ``shown_file`` appear, in that order, in the real output.

    A line "  ..." in the shown file stands for lines left out (a traceback).
    """
    shown = [line for line in normalize(read(example, shown_file)) if line != "  ..."]
    seen = iter(normalize(output))
    missing = [line for line in shown if line not in seen]
    assert not missing, f"not in this order in the real output: {missing}\n{output}"


def start(
    example: Example,
    command: str,
    tmp_path: Path,
    running: list[Process],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Process:
    """Start one command of commands.sh or the Procfile, logged to its own file."""
    process = Process(
        command,
        cwd=cwd or example.path,
        env={example.broker.url_variable: example.broker.url, **(env or {})},
        log=tmp_path / f"{len(running)}-{shlex.split(command)[0]}.log",
    )
    running.append(process)
    return process


def start_worker(
    example: Example,
    command: str,
    tmp_path: Path,
    running: list[Process],
    env: dict[str, str] | None = None,
) -> Process:
    worker = start(example, command, tmp_path, running, env)
    worker.wait_for_output(BOOTED, timeout=30)
    return worker


def shell(
    command: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run one line of commands.sh through the shell, as a reader types it."""
    inherited = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env={**inherited, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stays_false(condition: Callable[[], object], seconds: float) -> bool:
    """Poll ``condition`` for ``seconds``; True if it never became true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return False
        time.sleep(0.1)
    return True


def copy_of(example: Example, tmp_path: Path) -> Path:
    """The broker folder copied alone, as a reader's project, outside this repo."""
    return Path(
        shutil.copytree(
            example.path,
            tmp_path / "project",
            ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"),
        )
    )


# --- The broker is set after the actors are declared ----------------------


def test_late_broker_leaves_the_message_waiting_and_the_worker_silent(
    example: Example,
    tmp_path: Path,
    running: list[Process],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The broker Dramatiq makes up uses the server's default vhost or
    # database, not the test's own: run the whole test there.
    monkeypatch.setenv(example.broker.url_variable, example.broker.default_url)
    example.broker.flush(QUEUE)
    try:
        late_broker_then_the_fix(example, tmp_path, running)
    finally:
        example.broker.flush(QUEUE)


def late_broker_then_the_fix(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    [check] = example.commands("late-broker-check")
    assert shell(check, example.path).stdout == "False\n"

    worker_command, send = example.commands("late-broker")
    worker = start_worker(example, worker_command, tmp_path, running)
    result = shell(send, example.path)
    assert result.returncode == 0, result.stderr

    # The actor sent to the broker Dramatiq made up: on this machine, the same
    # server on its default port. The worker's broker declared no actor, so
    # it consumes nothing, and says nothing about it.
    wait_for(
        lambda: example.broker.pending(QUEUE) == 1,
        timeout=10,
        what="the message to wait in the queue",
    )
    assert stays_false(lambda: "The sum" in worker.output(), 3)
    assert "WARNING" not in worker.output() and "ERROR" not in worker.output()
    worker.kill_group()

    # The fix: tasks.py imports the broker before it declares the actor.
    [check] = example.commands("broker-check")
    assert shell(check, example.path).stdout == "True\n"
    fixed = start_worker(example, example.procfile_command("worker"), tmp_path, running)
    # It declares add on its broker, so it consumes the waiting message.
    fixed.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)


def netns_works() -> bool:
    probe = subprocess.run(
        ["unshare", "--net", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not (shutil.which("unshare") and shutil.which("ip")) or not netns_works(),
    reason="needs unshare --net (root) to run with no broker on localhost",
)
def test_late_broker_sends_to_localhost_whatever_the_url_says(
    example: Example,
) -> None:
    [send] = example.commands("late-broker-send")
    assert send.startswith(f"{example.broker.url_variable}=")
    assert "127.0.0.1" not in send.split()[0]
    # A machine where no broker listens on localhost, as in production: a
    # network namespace of its own, with only the loopback interface.
    result = subprocess.run(
        ["unshare", "--net", "sh", "-c", f"ip link set lo up && {send}"],
        cwd=example.path,
        env={k: v for k, v in os.environ.items() if not k.endswith("_URL")},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 1
    assert_shown_in_order(example, "late-broker.txt", result.stderr)


# --- --watch without the watch extra ---------------------------------------


def test_watch_without_the_watch_extra_stops_with_a_critical_error(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("the test makes a virtualenv without the extra with uv")
    [dramatiq] = [
        requirement
        for line in read(example, "requirements.txt").splitlines()
        if (requirement := Requirement(line)).name == "dramatiq"
    ]
    assert "watch" in dramatiq.extras, "the fix: the extra is required"
    without_watch = f"dramatiq[{','.join(sorted(dramatiq.extras - {'watch'}))}]"
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True, timeout=60)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
        + [f"{without_watch}=={metadata.version('dramatiq')}"],
        check=True,
        timeout=300,
    )

    [command] = example.commands("watch")
    result = subprocess.run(
        shlex.split(command),
        cwd=example.path,
        env={**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert_shown_in_order(example, "watch.txt", result.stderr)

    # The fix: requirements.txt has the extra, and the same command boots.
    worker = start_worker(example, command, tmp_path, running)
    assert "CRITICAL" not in worker.output()


# --- join() hangs in tests -------------------------------------------------


def run_pytest(command: str, cwd: Path, timeout: float) -> tuple[int | None, str]:
    """Run a pytest command; on timeout kill it. Return (exit code or None, output)."""
    inherited = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    log = cwd / "pytest-output.txt"
    with log.open("wb") as out:
        process = subprocess.Popen(
            shlex.split(command),
            cwd=cwd,
            env=inherited,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
    return code, log.read_text()


def test_join_waits_for_the_retry_and_hangs_the_test(
    example: Example, tmp_path: Path
) -> None:
    project = copy_of(example, tmp_path)
    [command] = example.commands("join")

    code, output = run_pytest(command, project, timeout=10)

    assert code is None, f"pytest ended with {code}:\n{output}"
    assert_shown_in_order(example, "join.txt", output)
    [delay] = re.findall(r"Retrying message '[\w-]+' in (\d+) milliseconds", output)
    assert 15_000 <= int(delay) <= 30_000

    # The fix of the testing page: no retries for the test's message.
    test_file = project / "test_join_hangs.py"
    source = test_file.read_text()
    assert 'add.send("1", 2)' in source
    test_file.write_text(
        source.replace(
            'add.send("1", 2)', 'add.send_with_options(args=("1", 2), max_retries=0)'
        )
    )
    code, output = run_pytest(command, project, timeout=30)
    assert code == 1, output
    assert "TypeError: can only concatenate str" in output
    assert "1 failed" in output


# --- get_result() without store_results ------------------------------------


def test_get_result_without_store_results_gives_up(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    worker_command, get_result = example.commands("no-store-results")
    worker = start_worker(example, worker_command, tmp_path, running)

    started = time.monotonic()
    result = shell(get_result, example.path, timeout=60)
    took = time.monotonic() - started
    print(
        f"\n[{example.broker.name}] get_result(block=True) gave up after {took:.1f} s"
    )

    assert result.returncode == 1
    assert_shown_in_order(example, "get-result.txt", result.stderr)
    # redis-py 8 gives every socket a 5 s timeout: the blocking read fails
    # before Dramatiq's own 10 s result timeout.
    assert 4 < took < 9
    assert_shown_in_order(example, "no-store-results.txt", worker.output())
    worker.kill_group()

    # The fix: tasks.py's divide has store_results=True.
    start_worker(example, example.procfile_command("worker"), tmp_path, running)
    [fixed] = example.commands("store-results")
    result = shell(fixed, example.path, timeout=30)
    assert (result.returncode, result.stdout) == (0, "2.0\n"), result.stderr


# --- Retries: 20 of them, over weeks ---------------------------------------


def test_failing_task_is_retried_15_to_30_seconds_later(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    worker = start_worker(
        example, example.procfile_command("worker"), tmp_path, running
    )
    [send] = example.commands("retry")
    assert shell(send, example.path).returncode == 0

    worker.wait_for_output("Retrying message", timeout=20)
    assert_shown_in_order(example, "retry.txt", worker.output())
    [delay] = re.findall(r"in (\d+) milliseconds", worker.output())
    assert 15_000 <= int(delay) <= 30_000
    # The retry waits in the delay queue, not in the worker's log.
    assert "Retries exceeded" not in worker.output()


UNITS = {"s": 1000, "min": 60_000, "hours": 3_600_000, "days": 86_400_000}


def to_ms(amount: str, unit: str) -> float:
    return float(amount) * UNITS[unit]


def test_retry_schedule_matches_dramatiqs_own_backoff(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    [command] = example.commands("retry-schedule")
    result = shell(command, example.path)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.splitlines() == read(example, "retry-schedule.txt").splitlines()
    )

    # Each printed range holds every wait Dramatiq's jittered backoff picks,
    # and its ends are reached (to the 3 digits printed).
    import random

    import dramatiq.common
    from dramatiq.middleware.retries import DEFAULT_MAX_BACKOFF, DEFAULT_MIN_BACKOFF

    rows = re.findall(
        r"^Retry +(\d+): ([\d.]+) (\w+) to ([\d.]+) (\w+) later$",
        result.stdout,
        flags=re.MULTILINE,
    )
    assert [int(row[0]) for row in rows] == list(range(1, 21))
    random.seed(0)
    for retry, low, low_unit, high, high_unit in rows:
        samples = [
            dramatiq.common.compute_backoff(
                int(retry) - 1,
                factor=DEFAULT_MIN_BACKOFF,
                max_backoff=DEFAULT_MAX_BACKOFF,
            )[1]
            for _ in range(2000)
        ]
        shortest, longest = to_ms(low, low_unit), to_ms(high, high_unit)
        assert shortest * 0.995 <= min(samples) <= shortest * 1.02, retry
        assert longest * 0.98 <= max(samples) <= longest * 1.005, retry


# --- Redis redelivers a crashed worker's message minutes later -------------

SLOW = """
import time

import dramatiq

from tasks import broker


@dramatiq.actor(broker=broker, queue_name="troubleshooting", actor_name="ts_slow")
def slow() -> None:
    print("slow task started", flush=True)
    time.sleep(30)
"""


def fast_redelivery() -> str:
    """A module that gives the worker's broker the reliability page's settings."""
    tasks = (EXAMPLES / "reliability" / "redis" / "tasks.py").read_text()
    [broker] = [
        node
        for node in ast.walk(ast.parse(tasks))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "RedisBroker"
    ]
    settings = {
        keyword.arg: ast.literal_eval(keyword.value)
        for keyword in broker.keywords
        if keyword.arg in ("heartbeat_timeout", "maintenance_chance")
    }
    assert len(settings) == 2, "the reliability example sets both"
    lines = [f"broker.{name} = {value!r}" for name, value in settings.items()]
    return "\n".join(["from tasks import broker", *lines, ""])


def test_crashed_workers_task_comes_back_at_once_on_rabbitmq_after_a_minute_on_redis(
    example: Example,
    tmp_path: Path,
    running: list[Process],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "ts_slow.py").write_text(SLOW)
    (tmp_path / "fast_redelivery.py").write_text(fast_redelivery())
    monkeypatch.syspath_prepend(str(tmp_path))
    env = {"PYTHONPATH": str(tmp_path)}
    worker = example.procfile_command("worker")
    command = f"{worker} ts_slow --processes 1"
    try:
        first = start_worker(example, command, tmp_path, running, env)
        example.load("ts_slow", monkeypatch).slow.send()
        first.wait_for_output("slow task started", timeout=20)
        # A crash: the worker and its processes die at once, mid-task.
        first.kill_group()
        crashed_at = time.monotonic()

        second = start_worker(example, command, tmp_path, running, env)
        if example.broker.name == "rabbitmq":
            # RabbitMQ requeues what the dead connection held, at once.
            second.wait_for_output("slow task started", timeout=10)
            return

        # Redis requeues it only in maintenance, after the heartbeat timeout.
        from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

        defaults = RedisBroker(url=example.broker.url)
        assert defaults.heartbeat_timeout == 60_000
        assert defaults.maintenance_chance / MAINTENANCE_SCALE == 1 / 1000
        assert stays_false(lambda: "slow task started" in second.output(), 7)
        second.kill_group()

        # The fix: a shorter heartbeat timeout, and maintenance on every call.
        fast = start_worker(
            example,
            f"{worker} ts_slow fast_redelivery --processes 1",
            tmp_path,
            running,
            env,
        )
        fast.wait_for_output("slow task started", timeout=30)
        # "About 10 seconds after the crash", as the reliability page says:
        # not before the heartbeat timeout, and soon after it.
        after = time.monotonic() - crashed_at
        print(f"\n[redis] the fixed worker ran the task {after:.1f} s after the crash")
        assert 8 <= after <= 20, after
    finally:
        for process in running:
            process.kill_group()


# --- FileNotFoundError under gunicorn --preload ----------------------------


def post_concurrently(port: int, count: int, timeout: float = 5) -> list[int]:
    """POST the guide's numbers ``count`` times at once; the status of each."""

    def post(_: int) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/add", data=b"x=1&y=2", method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0  # No answer: the request hung on the shared connection.

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


def serve(
    example: Example, command: str, tmp_path: Path, running: list[Process]
) -> tuple[Process, int]:
    assert WEB_ADDRESS in command
    port = free_port()
    web = start(
        example,
        command.replace(WEB_ADDRESS, f"127.0.0.1:{port}"),
        tmp_path,
        running,
        # gunicorn puts its control socket in XDG_RUNTIME_DIR: keep it here.
        env={"XDG_RUNTIME_DIR": str(tmp_path)},
    )
    wait_for(lambda: port_is_open(port), timeout=20, what="gunicorn")
    return web, port


SHARED_SOCKET_ERROR = "FileNotFoundError: [Errno 2] No such file or directory"


def test_preload_and_a_send_at_import_hang_requests_on_rabbitmq(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    [command] = example.commands("preload")
    if example.broker.name == "redis":
        web, port = serve(example, command, tmp_path, running)
        statuses = post_concurrently(port, 30) + post_concurrently(port, 30)
        # redis-py notices the fork and opens a connection per process.
        assert set(statuses) == {202}
        assert "Traceback" not in web.output()
        return

    # The processes race on the shared connection: with 60 requests at once,
    # every start of gunicorn left a request hanging. The error needs one
    # process to abort the connection while another still polls it: it
    # showed in 2 of 12 starts on an idle machine, and in none of 39 under
    # the whole suite's load, in a start that may hang nothing. So start
    # gunicorn afresh, for up to 20 s, until both have shown; the hang must
    # show, and the error's output must match the page's whenever it shows.
    statuses: list[int] = []
    errors: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (errors and 0 in statuses):
        web, port = serve(example, command, tmp_path, running)
        statuses += post_concurrently(port, 60, timeout=2)
        web.kill_group()
        if SHARED_SOCKET_ERROR in web.output():
            errors.append(web.output())
    print(
        f"\n[{example.broker.name}] --preload: {len(statuses)} requests, "
        f"{statuses.count(0)} hung, {statuses.count(500)} answered 500; "
        f"{SHARED_SOCKET_ERROR if errors else 'the error did not show'}"
    )
    assert 0 in statuses, "no request hung on the shared connection"
    for output in errors:
        assert_shown_in_order(example, "preload.txt", output)

    # The fix: the Procfile's line, without --preload.
    web, port = serve(example, example.procfile_command("web"), tmp_path, running)
    statuses = post_concurrently(port, 30) + post_concurrently(port, 30)
    assert set(statuses) == {202}
    assert "Traceback" not in web.output()


# --- No app context in the actor -------------------------------------------


def test_actor_using_current_app_fails_outside_an_app_context(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    worker_command, send = example.commands("no-app-context")
    worker = start_worker(example, worker_command, tmp_path, running)
    assert shell(send, example.path).returncode == 0

    worker.wait_for_output("Working outside of application context.", timeout=20)
    worker.wait_for_output("Retrying message", timeout=10)
    assert_shown_in_order(example, "no-app-context.txt", worker.output())


# --- Strings from the form -------------------------------------------------


def test_view_sending_form_strings_makes_the_worker_print_12(
    example: Example, tmp_path: Path, running: list[Process]
) -> None:
    web_command, curl = example.commands("string-view")
    worker = start_worker(
        example, example.procfile_command("worker"), tmp_path, running
    )
    web, port = serve(example, web_command, tmp_path, running)

    def request(port: int) -> dict:
        answer = subprocess.run(
            shlex.split(curl.replace(WEB_ADDRESS, f"127.0.0.1:{port}")),
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return json.loads(answer.stdout)

    assert request(port)["message_id"]
    worker.wait_for_output("The sum of 1 and 2 is 12.", timeout=20)
    assert_shown_in_order(example, "string-args.txt", worker.output())
    web.kill_group()

    # The fix: app.py converts and validates the fields.
    web, port = serve(example, example.procfile_command("web"), tmp_path, running)
    assert request(port)["message_id"]
    worker.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)


# --- RabbitMQ's consumer_timeout and delayed messages ----------------------


def rabbitmqctl(command: str) -> str:
    """A rabbitmqctl line of commands.sh, run on this machine's RabbitMQ."""
    assert command.startswith("docker exec rabbitmq rabbitmqctl ")
    local = command.removeprefix("docker exec rabbitmq ")
    if local.startswith("rabbitmqctl list_queues "):  # In the test's own vhost:
        listing, pipe, rest = local.partition(" | ")
        local = shlex.join(RABBITMQ.cli_command(shlex.split(listing))) + pipe + rest
    result = shell(local, Path.cwd(), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.skipif(not shutil.which("rabbitmqctl"), reason="needs rabbitmqctl")
def test_worker_holds_a_message_delayed_past_consumer_timeout_unacknowledged(
    rabbitmq_example: Example, tmp_path: Path, running: list[Process]
) -> None:
    example = rabbitmq_example
    [read_timeout] = example.commands("consumer-timeout")
    # The shared broker's setting is read, never changed.
    assert rabbitmqctl(read_timeout) == read(example, "consumer-timeout.txt")
    [timeout_ms] = re.findall(r"\{ok,(\d+)\}", read(example, "consumer-timeout.txt"))

    start_worker(example, example.procfile_command("worker"), tmp_path, running)
    send, list_queues = example.commands("delay")
    assert "delay=3_600_000" in send and 3_600_000 > int(timeout_ms)
    assert shell(send, example.path).returncode == 0

    def queues() -> list[str]:
        return sorted(rabbitmqctl(list_queues).splitlines())

    # The worker takes the delayed message at once and holds it, unacked,
    # until it is due: an hour, past RabbitMQ's consumer_timeout.
    wait_for(
        lambda: queues() == sorted(read(example, "delayed.txt").splitlines()),
        timeout=15,
        what="the worker to hold the delayed message unacknowledged",
        interval=0.5,
    )


def test_requirements_shown_are_installed(example: Example) -> None:
    assert_requirements_installed(example.path / "requirements.txt")
