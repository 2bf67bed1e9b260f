"""examples/worker_tuning: size, route, reload, stop and time-limit real workers.

Timings (reload, shutdown, pickup latency) are printed with -s and asserted
only within generous bounds: the test machine may be small and busy.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support.examples import (
    BROKER_UNAVAILABLE,
    Example,
    example_params,
    run_against_flask,
    with_empty_queues,
)
from support.output import assert_shown_in_order as assert_lines_in_order
from support.processes import Process, free_port, port_is_open, wait_for

FAST = "tuning"
SLOW = "tuning-slow"
BOOTED = "is booting up."
# The PID the guide's output shows for the worker's main process.
SHOWN_PID = "4100"
WATCH_INCLUDE = " --watch-include '**/*.py'"
LOWER_TIMEOUT = "env dramatiq_worker_timeout=40 "
PLATFORM_GRACE_MS = 30_000  # Heroku's and Kubernetes' SIGTERM-to-SIGKILL delay


@pytest.fixture(params=example_params("worker_tuning"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(FAST, SLOW))


def only(broker: str) -> list:
    return [param for param in example_params("worker_tuning") if param.id == broker]


@pytest.fixture(params=only("rabbitmq"))
def rabbitmq_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(FAST, SLOW))


@pytest.fixture(params=only("redis"))
def redis_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(FAST, SLOW))


def assert_shown_in_order(example: Example, shown_file: str, output: str) -> None:
    """The lines of ``shown_file`` appear, in that order, in the real output."""
    assert_lines_in_order((example.path / shown_file).read_text(), output)


def start_ready(example: Example, process_type: str, tmp_path: Path) -> Process:
    """Start a Procfile line and wait until its worker consumes."""
    worker = example.start(process_type, tmp_path)
    worker.wait_for_output(BOOTED, timeout=30)
    return worker


def ready_in_queue(example: Example, queue: str) -> int:
    """Messages waiting in ``queue`` itself: not delayed, not taken by a worker."""
    if example.broker.name == "rabbitmq":
        import pika

        parameters = pika.URLParameters(example.broker.url)
        with pika.BlockingConnection(parameters) as connection:
            declared = connection.channel().queue_declare(queue, passive=True)
            return declared.method.message_count
    import redis

    return redis.Redis.from_url(example.broker.url).llen(f"dramatiq:{queue}")


def group_members(pgid: int) -> list[int]:
    """The PIDs of the live processes in process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the command name: state, ppid, pgrp, ...
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # The process ended while we looked.
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def stays_false(condition: Callable[[], object], seconds: float) -> bool:
    """Poll ``condition`` for ``seconds``; True if it never became true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return False
        time.sleep(0.1)
    return True


# --- The view: the quickstart's rules --------------------------------------


@pytest.mark.parametrize(
    ("seconds", "error"),
    [
        (None, "Field 'seconds' is required."),
        (" ", "Field 'seconds' is required."),
        ("two", "Field 'seconds' must be a number, got 'two'."),
        ("0", "Field 'seconds' must be more than 0 and at most 20."),
        ("-1", "Field 'seconds' must be more than 0 and at most 20."),
        ("21", "Field 'seconds' must be more than 0 and at most 20."),
        ("nan", "Field 'seconds' must be more than 0 and at most 20."),
        ("inf", "Field 'seconds' must be more than 0 and at most 20."),
    ],
    ids=["missing", "blank", "word", "zero", "negative", "too-long", "nan", "inf"],
)
def test_bad_input_answers_400_and_enqueues_nothing(
    example: Example,
    monkeypatch: pytest.MonkeyPatch,
    seconds: str | None,
    error: str,
) -> None:
    app = example.load("app", monkeypatch).app
    form = {} if seconds is None else {"seconds": seconds}

    response = app.test_client().post("/reports", data=form)

    assert response.status_code == 400
    assert response.get_json() == {"error": error}
    assert example.broker.pending(SLOW) == 0


def test_valid_input_enqueues_one_report_on_the_slow_queue(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = example.load("app", monkeypatch).app

    response = app.test_client().post("/reports", data={"seconds": "2.5"})

    assert response.status_code == 202
    assert example.broker.pending(SLOW) == 1
    assert example.broker.pending(FAST) == 0


def test_unreachable_broker_answers_503_with_one_clear_line(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheme = "amqp" if example.broker.name == "rabbitmq" else "redis"
    monkeypatch.setenv(
        example.broker.url_variable, f"{scheme}://127.0.0.1:{free_port()}"
    )
    app = example.load("app", monkeypatch).app

    response = app.test_client().post("/reports", data={"seconds": "2"})

    assert response.status_code == 503
    assert response.get_json() == BROKER_UNAVAILABLE


def test_requirements_include_the_watch_extra(example: Example) -> None:
    requirements = (example.path / "requirements.txt").read_text()
    assert re.search(r"^dramatiq\[[^]]*\bwatch\b", requirements, re.MULTILINE)
    import watchdog  # noqa: F401  (the extra installs it; --watch needs it)


# --- Sizing and queues -----------------------------------------------------


def test_each_worker_serves_only_its_own_queue(
    example: Example, tmp_path: Path
) -> None:
    port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(port)})
    slow = start_ready(example, "worker-slow", tmp_path)
    fast = None
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the Flask app")
        [curl] = example.commands("request")
        answer = run_against_flask(curl, port)
        assert json.loads(answer)["message_id"]

        slow.wait_for_output("Built the 2 s report.", timeout=30)
        # The report queued its notification on the fast queue, which the
        # slow worker does not serve: it waits there for the fast worker.
        wait_for(
            lambda: example.broker.pending(FAST) == 1,
            timeout=10,
            what="the notification to reach the fast queue",
        )
        fast = start_ready(example, "worker", tmp_path)
        fast.wait_for_output("Notified: Your 2 s report is ready.", timeout=20)
        assert "Notified" not in slow.output()
        assert "Building" not in fast.output()
    finally:
        web.kill_group()
        slow.kill_group()
        if fast:
            fast.kill_group()


def test_procfile_sizes_each_worker_for_its_work(example: Example) -> None:
    fast = shlex.split(example.procfile_command("worker"))
    slow = shlex.split(example.procfile_command("worker-slow"))
    # I/O-bound notifications: more threads; CPU-bound reports: one thread
    # per process, and the default of one process per CPU core.
    assert fast[fast.index("--threads") + 1] == "16"
    assert slow[slow.index("--threads") + 1] == "1"
    assert "--processes" not in fast + slow
    assert fast[fast.index("--queues") + 1 :][:1] == [FAST]
    assert slow[slow.index("--queues") + 1 :][:1] == [SLOW]


def test_longest_report_fits_in_the_shutdown_timeout_and_the_grace_period(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page's rule: the longest task < --worker-shutdown-timeout < the
    # platform's grace period (30 s on Heroku and Kubernetes).
    longest_ms = example.load("app", monkeypatch).MAX_SECONDS * 1000
    slow = shlex.split(example.procfile_command("worker-slow"))
    timeout_ms = int(slow[slow.index("--worker-shutdown-timeout") + 1])
    assert longest_ms < timeout_ms < PLATFORM_GRACE_MS


# --- Reloading in development ----------------------------------------------


def copy_of(example: Example, tmp_path: Path) -> Example:
    """A copy of the example folder to edit: the tests never edit examples/."""
    copy = tmp_path / "project" / example.path.name
    shutil.copytree(example.path, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return Example(copy)


def edit_notify(project: Example) -> None:
    """Change what notify() prints, as a developer editing the actor would."""
    tasks = project.path / "tasks.py"
    source = tasks.read_text()
    assert 'print(f"Notified: {text}")' in source
    tasks.write_text(source.replace("Notified: ", "Told the user: "))


def test_watch_with_include_pattern_reloads_and_runs_the_new_code(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = example.procfile_command("worker-dev")
    assert command.endswith(" --watch ." + WATCH_INCLUDE), command
    project = copy_of(example, tmp_path)
    worker = start_ready(project, "worker-dev", tmp_path)
    try:
        notify = project.load("tasks", monkeypatch).notify
        notify.send("before the edit")
        worker.wait_for_output("Notified: before the edit", timeout=20)

        edited = time.monotonic()
        edit_notify(project)
        wait_for(
            lambda: worker.output().count(BOOTED) >= 2,
            timeout=30,
            what="the worker to reload",
        )
        rebooted = time.monotonic()
        notify.send("after the edit")
        worker.wait_for_output("Told the user: after the edit", timeout=20)
        new_code = time.monotonic()
        print(
            f"\n[{example.broker.name}] --watch reload: edit -> rebooted "
            f"{rebooted - edited:.2f} s, edit -> new code ran {new_code - edited:.2f} s"
        )
        assert "Notified: after the edit" not in worker.output()
    finally:
        worker.kill_group()
    # The main process re-executes itself: both boots log the same PID.
    booted_by = re.findall(r"\[PID (\d+)\] .*" + re.escape(BOOTED), worker.output())
    assert booted_by == [str(worker.popen.pid)] * 2
    assert_shown_in_order(example, "reload.txt", worker.output())


def test_plain_watch_dot_never_reloads(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What readers of older guides run: the same line without the pattern.
    command = example.procfile_command("worker-dev").replace(WATCH_INCLUDE, "")
    assert command == "dramatiq tasks --watch ."
    project = copy_of(example, tmp_path)
    worker = Process(
        command,
        cwd=project.path,
        env={example.broker.url_variable: example.broker.url},
        log=tmp_path / "plain-watch.log",
    )
    try:
        worker.wait_for_output(BOOTED, timeout=30)
        notify = project.load("tasks", monkeypatch).notify

        edit_notify(project)
        # A working --watch reloads 1 to 7 s after an edit; give it 12.
        assert stays_false(lambda: "Detected changes" in worker.output(), 12)
        assert worker.output().count(BOOTED) == 1
        notify.send("after the edit")
        worker.wait_for_output("Notified: after the edit", timeout=20)
    finally:
        worker.kill_group()


# --- Shutdown --------------------------------------------------------------


def test_sigterm_lets_the_report_in_flight_finish(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [stop] = example.commands("stop")
    assert stop == f"kill -TERM {SHOWN_PID}"
    worker = start_ready(example, "worker-slow", tmp_path)
    try:
        example.load("tasks", monkeypatch).build_report.send(2)
        worker.wait_for_output("Building a 2 s report...", timeout=20)

        signalled = time.monotonic()
        subprocess.run(
            ["bash", "-c", stop.replace(SHOWN_PID, str(worker.popen.pid))],
            check=True,
            timeout=10,
        )
        code = worker.popen.wait(timeout=30)
        took = time.monotonic() - signalled
        print(
            f"\n[{example.broker.name}] SIGTERM -> exit with a 2 s task: {took:.2f} s"
        )

        assert code == 0
        assert "Built the 2 s report." in worker.output()
        assert 2 <= took < 15
        # The report finished, so its message is acked: nothing to run again.
        assert example.broker.pending(SLOW) == 0
    finally:
        worker.kill_group()
    assert_shown_in_order(example, "output.txt", worker.output())


def test_shutdown_timeout_cuts_a_longer_report_short(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guide's 25 s would make this test slow: the same line with 1 s.
    command = example.procfile_command("worker-slow")
    assert "--worker-shutdown-timeout 25000" in command
    worker = Process(
        command.replace("25000", "1000"),
        cwd=example.path,
        env={example.broker.url_variable: example.broker.url},
        log=tmp_path / "short-shutdown.log",
    )
    try:
        worker.wait_for_output(BOOTED, timeout=30)
        example.load("tasks", monkeypatch).build_report.send(10)
        worker.wait_for_output("Building a 10 s report...", timeout=20)

        signalled = time.monotonic()
        assert worker.terminate(timeout=15) == 0
        took = time.monotonic() - signalled
        print(f"\n[{example.broker.name}] SIGTERM -> exit, 1 s timeout: {took:.2f} s")
        assert took < 8
        assert "Built the 10 s report." not in worker.output()
        # The worker logs nothing about the report it abandoned.
        assert "WARNING" not in worker.output()
        assert "ERROR" not in worker.output()

        if example.broker.name == "rabbitmq":
            # RabbitMQ puts the unacknowledged message back at once.
            wait_for(
                lambda: ready_in_queue(example, SLOW) == 1,
                timeout=5,
                what="RabbitMQ to requeue the report",
            )
        else:
            # Redis keeps the message but does not queue it again: that waits
            # for another worker's maintenance, minutes later.
            assert example.broker.pending(SLOW) == 1
            assert stays_false(lambda: ready_in_queue(example, SLOW), 3)
    finally:
        worker.kill_group()


def test_killing_only_the_parent_leaves_workers_consuming(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = start_ready(example, "worker", tmp_path)
    try:
        assert len(group_members(worker.popen.pid)) >= 2, "parent and children"

        os.kill(worker.popen.pid, signal.SIGKILL)
        worker.popen.wait(timeout=10)
        orphans = group_members(worker.popen.pid)
        assert orphans, "no worker process outlived its parent"

        # The orphans still take messages off the queue, unsupervised.
        example.load("tasks", monkeypatch).notify.send("to nobody")
        wait_for(
            lambda: ready_in_queue(example, FAST) == 0,
            timeout=10,
            what="an orphaned worker process to take the message",
        )
    finally:
        worker.kill_group()
    wait_for(
        lambda: not group_members(worker.popen.pid),
        timeout=10,
        what="the whole group to die",
    )


def test_force_stop_kills_the_whole_group(example: Example, tmp_path: Path) -> None:
    [force_stop] = example.commands("force-stop")
    assert force_stop == f"kill -KILL -- -{SHOWN_PID}"
    worker = start_ready(example, "worker", tmp_path)
    try:
        assert len(group_members(worker.popen.pid)) >= 2
        subprocess.run(
            ["bash", "-c", force_stop.replace(SHOWN_PID, str(worker.popen.pid))],
            check=True,
            timeout=10,
        )
        wait_for(
            lambda: not group_members(worker.popen.pid),
            timeout=10,
            what="every process of the worker's group to die",
        )
    finally:
        worker.kill_group()


# --- Time limits -----------------------------------------------------------


def test_time_limit_stops_the_report_retries_once_then_dead_letters(
    example: Example, tmp_path: Path
) -> None:
    worker = start_ready(example, "worker-slow", tmp_path)
    try:
        [send] = example.commands("time-limit")
        subprocess.run(
            shlex.split(send),
            cwd=example.path,
            env={**os.environ, example.broker.url_variable: example.broker.url},
            check=True,
            timeout=30,
        )
        worker.wait_for_output("Retries exceeded for message", timeout=30)
        wait_for(
            lambda: example.broker.dead(SLOW) == 1,
            timeout=10,
            what="the report in the dead-letter queue",
        )
        output = worker.output()
        assert output.count("Building a 5 s report...") == 2  # max_retries=1
        assert output.count("Time limit exceeded.") == 2
        assert output.count("TimeLimitExceeded") == 2
        assert "Built the 5 s report." not in output
        assert example.broker.pending(SLOW) == 0
    finally:
        worker.kill_group()
    assert_shown_in_order(example, "time-limit.txt", worker.output())


NAPPING = """\
import time

import dramatiq

import tasks  # noqa: F401  (sets the broker)


@dramatiq.actor(queue_name="tuning-slow", max_retries=0)
def nap(seconds: float) -> None:
    started = time.monotonic()
    try:
        time.sleep(seconds)
    finally:
        print(f"Woke up after {time.monotonic() - started:.1f} s.")
"""


def test_time_limit_cannot_interrupt_a_blocking_call(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guide warns about this; its example has no blocking actor, so the
    # test adds one to a copy of the folder.
    project = copy_of(example, tmp_path)
    (project.path / "napping.py").write_text(NAPPING)
    worker = Process(
        f"dramatiq tasks napping --queues {SLOW} --processes 1 --threads 1",
        cwd=project.path,
        env={example.broker.url_variable: example.broker.url},
        log=tmp_path / "napping.log",
    )
    try:
        worker.wait_for_output(BOOTED, timeout=30)
        nap = project.load("napping", monkeypatch).nap
        nap.send_with_options(args=(4,), time_limit=1_000)
        worker.wait_for_output("TimeLimitExceeded", timeout=20)
    finally:
        worker.kill_group()
    output = worker.output()
    # The limit fired after 1 to 2 s, yet the sleep ran its full 4 s.
    assert "Time limit exceeded." in output
    assert "Woke up after 4.0 s." in output
    assert output.index("Woke up after") < output.index("TimeLimitExceeded")


# --- Latency ---------------------------------------------------------------


def pickup_latencies(
    targets: list[tuple[Process, Callable[[str], object]]],
    samples: int,
    *,
    idle: bool = False,
) -> list[list[float]]:
    """Seconds from sending to the actor's output, each sent to an idle worker.

    ``targets``: each worker, with the function that sends ``notify(text)`` to
    it. All of them get each sample at once, so they share the idle waits.
    ``idle``: the workers have just been idle for 3 s, so the first sample
    need not wait.
    """
    latencies: list[list[float]] = [[] for _ in targets]
    for sample in range(samples):
        # Deliberately idle: the Redis consumer backs off to its longest
        # poll interval after about 2 s without messages.
        if sample or not idle:
            time.sleep(3)
        text = f"ping {sample}"
        sent = []
        for _, send in targets:
            sent.append(time.monotonic())
            send(text)
        seen = first_seen([worker for worker, _ in targets], f"Notified: {text}")
        for index, at in enumerate(seen):
            latencies[index].append(at - sent[index])
    return latencies


def first_seen(workers: list[Process], expected: str) -> list[float]:
    """When (monotonic) each worker's output first showed ``expected``."""
    seen: dict[int, float] = {}

    def all_seen() -> bool:
        now = time.monotonic()
        for index, worker in enumerate(workers):
            if index not in seen and expected in worker.output():
                seen[index] = now
        return len(seen) == len(workers)

    # Poll often: on RabbitMQ, the whole trip takes a few milliseconds.
    wait_for(
        all_seen, timeout=10, what=f"{expected!r} from the workers", interval=0.002
    )
    return [seen[index] for index in range(len(workers))]


def idle_fetches_per_second(
    example: Example, databases: list[int], seconds: float
) -> dict[int, float]:
    """How often the workers ask Redis for messages of our queues, while idle,
    in each of ``databases``."""
    import redis

    # The idle workers themselves send a command at least every second, so
    # MONITOR never waits long; the timeout only stops a hung test.
    client = redis.Redis.from_url(example.broker.url, socket_timeout=10)
    fetches = dict.fromkeys(databases, 0)
    deadline = time.monotonic() + seconds
    with client.monitor() as monitor:
        while time.monotonic() < deadline:
            # EVALSHA <sha> 1 dramatiq fetch <timestamp> <queue> ...
            entry = monitor.next_command()
            command = entry["command"].split()[4:7]
            if entry["db"] not in fetches:
                continue  # MONITOR shows every database: skip other tests'.
            if command[:1] == ["fetch"] and command[2:] in ([FAST], [f"{FAST}.DQ"]):
                fetches[entry["db"]] += 1
    return {database: count / seconds for database, count in fetches.items()}


def format_ms(latencies: list[float]) -> str:
    return ", ".join(f"{latency * 1000:.0f}" for latency in latencies) + " ms"


def test_rabbitmq_idle_worker_picks_up_at_once(
    rabbitmq_example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = rabbitmq_example
    worker = start_ready(example, "worker", tmp_path)
    try:
        notify = example.load("tasks", monkeypatch).notify
        [latencies] = pickup_latencies([(worker, notify.send)], samples=4)
    finally:
        worker.kill_group()
    print(f"\n[rabbitmq] idle pickup latency: {format_ms(latencies)}")
    assert statistics.median(latencies) < 0.5


def test_redis_lower_worker_timeout_picks_up_sooner_and_polls_more(
    redis_example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dramatiq.brokers.redis import RedisBroker

    example = redis_example
    tuned_command = example.procfile_command("worker")
    assert tuned_command.startswith(LOWER_TIMEOUT)
    notify = example.load("tasks", monkeypatch).notify
    # Both workers run at once, so they share the idle waits: the tuned one
    # in this test's database, the default one in Redis's last database.
    # Test processes use databases 1 to 12 at most (processes.py has ports
    # for 12), and only one test process runs this test.
    spare_url = example.broker.url_in_namespace(15)
    spare = RedisBroker(url=spare_url)
    for key in spare.client.scan_iter(match=f"dramatiq:*{FAST}*"):
        spare.client.delete(key)
    spare.declare_queue(FAST)
    setups = {
        "default": (tuned_command.removeprefix(LOWER_TIMEOUT), spare_url),
        "dramatiq_worker_timeout=40": (tuned_command, example.broker.url),
    }
    workers = {
        name: Process(
            command,
            cwd=example.path,
            env={example.broker.url_variable: url},
            log=tmp_path / f"latency-{name}.log",
        )
        for name, (command, url) in setups.items()
    }
    databases = {
        name: int(urlsplit(url).path.strip("/")) for name, (_, url) in setups.items()
    }
    try:
        for worker in workers.values():
            worker.wait_for_output(BOOTED, timeout=30)
        time.sleep(3)  # Let the consumers back off to their idle pace.
        polls = idle_fetches_per_second(example, list(databases.values()), seconds=3)
        # The 3 s of counting were idle too: the first sample goes at once.
        default_latencies, tuned_latencies = pickup_latencies(
            [
                (workers["default"], lambda text: spare.enqueue(notify.message(text))),
                (workers["dramatiq_worker_timeout=40"], notify.send),
            ],
            samples=4,
            idle=True,
        )
    finally:
        for worker in workers.values():
            worker.kill_group()
        spare.close()
    default_polls = polls[databases["default"]]
    tuned_polls = polls[databases["dramatiq_worker_timeout=40"]]
    for name, rate, latencies in [
        ("default", default_polls, default_latencies),
        ("dramatiq_worker_timeout=40", tuned_polls, tuned_latencies),
    ]:
        print(
            f"\n[redis] {name}: {rate:.1f} idle fetches/s; "
            f"idle pickup latency {format_ms(latencies)}"
        )

    # About 25 times the polling, for a pickup in tens of milliseconds.
    assert tuned_polls > 10 * default_polls
    assert statistics.median(tuned_latencies) < 0.1
    assert max(default_latencies) < 3
