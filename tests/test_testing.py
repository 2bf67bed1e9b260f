"""examples/testing: the reader's own pytest suite, run the way the page runs it.

Each test copies the broker folder to a temporary directory, as a reader
copies it into a project, and runs the commands of its commands.sh there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
from pytest_examples import CodeExample, EvalExample

from support.examples import EXAMPLES, Example, example_params, with_empty_queues
from support.figures import record
from support.processes import free_port, port_is_open, wait_for

QUEUE = "testing"
UNIT_TEST_COUNT = 5  # Tests in tests/test_app.py and tests/test_tasks.py.
INTEGRATION_TEST_COUNT = 1  # Tests in tests/test_integration.py.
FAILING_ACTOR_TEST = "tests/test_tasks.py::test_join_raises_the_actors_error"


@pytest.fixture(params=example_params("testing"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.fixture
def project(example: Example, tmp_path: Path) -> Path:
    """The broker folder, copied alone, as a reader's project."""
    return Path(
        shutil.copytree(
            example.path,
            tmp_path / "project",
            ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"),
        )
    )


@pytest.fixture(autouse=True)
def no_unit_tests_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the commands the page shows may set it.
    monkeypatch.delenv("UNIT_TESTS", raising=False)


def closed_url(example: Example) -> str:
    """A broker URL on a port where nothing listens."""
    scheme = "amqp" if example.broker.name == "rabbitmq" else "redis"
    return f"{scheme}://127.0.0.1:{free_port()}"


def run(
    command: str, cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run one line of commands.sh through the shell, as a reader types it.

    The outer pytest's PYTEST_ADDOPTS, if any, stays out. On timeout, kill the
    whole process group: the shell may have forked the command instead of
    replacing itself with it.
    """
    inherited = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    process = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        env={**inherited, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise subprocess.TimeoutExpired(command, timeout, stdout, stderr) from None
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def summary(result: subprocess.CompletedProcess[str]) -> str:
    """pytest's last line, without its timing: '5 passed, 1 deselected'."""
    last = result.stdout.strip().splitlines()[-1]
    return re.sub(r"\s+in [\d.]+s.*$", "", last).strip("= ")


@pytest.mark.figure
def test_unit_run_passes_fast_with_the_broker_unreachable(
    example: Example, project: Path, tmp_path: Path
) -> None:
    [command] = example.commands("unit")
    assert command == "pytest"

    # Nothing listens on this URL: any test that reached for the real broker
    # would fail (the view would answer 503). PYTEST_ADDOPTS adds the timings
    # without changing the command: pytest prints them in steps of 10 ms, its
    # JUnit report has each call's milliseconds.
    report = tmp_path / "report.xml"
    result = run(
        command,
        project,
        {
            example.broker.url_variable: closed_url(example),
            "PYTEST_ADDOPTS": (
                f"--durations=0 -vv --junitxml={report} -o junit_duration_report=call"
            ),
        },
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        summary(result)
        == f"{UNIT_TEST_COUNT} passed, {INTEGRATION_TEST_COUNT} deselected"
    )
    # max_retries=0 in conftest.py: even the failing actor's test is fast.
    phases = re.findall(
        r"^([\d.]+)s (setup|call|teardown) +(\S+)$", result.stdout, flags=re.MULTILINE
    )
    calls = {test: float(seconds) for seconds, phase, test in phases if phase == "call"}
    assert FAILING_ACTOR_TEST in calls, result.stdout
    assert max(calls.values()) < 1.0, calls

    totals: dict[str, float] = {}
    for seconds, _, test in phases:
        totals[test] = totals.get(test, 0.0) + float(seconds)
    slowest = max(totals.values())
    path, _, name = FAILING_ACTOR_TEST.partition("::")
    classname = path.removesuffix(".py").replace("/", ".")
    [failing] = [
        case
        for case in ET.parse(report).iter("testcase")
        if case.get("classname") == classname and case.get("name") == name
    ]
    failing_ms = float(failing.get("time", "nan")) * 1000
    print(
        f"\n[{example.broker.name}] failing actor's test: {failing_ms:.0f} ms; "
        f"slowest test, setup and teardown included: {slowest:.2f} s"
    )
    record("testing", "failing_actor_test_ms", round(failing_ms))
    record("testing", "slowest_test_seconds", round(slowest, 1))


@pytest.mark.smoke
def test_integration_run_passes_against_the_real_broker(
    example: Example, project: Path
) -> None:
    [command] = example.commands("integration")
    assert command == "pytest -m integration"

    result = run(command, project, {example.broker.url_variable: example.broker.url})

    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        summary(result)
        == f"{INTEGRATION_TEST_COUNT} passed, {UNIT_TEST_COUNT} deselected"
    )


@pytest.mark.measure
def test_without_max_retries_0_the_failing_actor_test_hangs(
    example: Example, project: Path
) -> None:
    # Break the reader's conftest.py: keep Dramatiq's default of 20 retries.
    conftest = project / "tests" / "conftest.py"
    source = conftest.read_text()
    assert "middleware.max_retries = 0" in source
    conftest.write_text(source.replace("middleware.max_retries = 0", "pass"))

    # The first retry comes 15 s or more later; join() waits for all 20.
    # Live logs show what the test waits for.
    command = f"pytest --log-cli-level=info {FAILING_ACTOR_TEST}"
    with pytest.raises(subprocess.TimeoutExpired) as hung:
        run(command, project, {}, timeout=8)
    assert re.search(
        r"Retrying message '[\w-]+' in \d+ milliseconds", hung.value.output
    )


def test_first_retry_waits_15_to_30_seconds(
    example: Example,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What join() would wait for in a test without max_retries=0.
    monkeypatch.setenv("UNIT_TESTS", "1")
    monkeypatch.setattr(dramatiq.broker, "global_broker", dramatiq.broker.global_broker)
    tasks = example.load("tasks", monkeypatch)
    worker = dramatiq.Worker(tasks.broker, worker_timeout=100)
    worker.start()
    try:
        with caplog.at_level(logging.INFO, logger="dramatiq"):
            tasks.add.send("1", 2)
            wait_for(
                lambda: "Retrying message" in caplog.text,
                timeout=5,
                what="the Retries middleware to schedule a retry",
            )
    finally:
        worker.stop()
    [delay] = re.findall(
        r"Retrying message '[\w-]+' in (\d+) milliseconds", caplog.text
    )
    assert 15_000 <= int(delay) <= 30_000


def demo_file(path: Path) -> CodeExample:
    """join_demo.py as a whole file, for pytest-examples."""

    class WholeFile(CodeExample):
        def in_py_file(self) -> bool:
            return False  # A whole file, not a snippet in a docstring.

    source = path.read_text()
    return WholeFile.create(source, path=path, end_line=source.count("\n"))


def test_join_demo_prints_what_its_comments_show(
    example: Example, monkeypatch: pytest.MonkeyPatch, eval_example: EvalExample
) -> None:
    # The demo imports tasks.py, which must pick the StubBroker, as the
    # command the page shows (UNIT_TESTS=1 python join_demo.py) makes it.
    monkeypatch.setenv("UNIT_TESTS", "1")
    monkeypatch.setattr(dramatiq.broker, "global_broker", dramatiq.broker.global_broker)
    example.load("tasks", monkeypatch)
    eval_example.set_config(target_version="py310")
    dramatiq_logger = logging.getLogger("dramatiq")
    level = dramatiq_logger.level
    demo = demo_file(example.path / "join_demo.py")
    # Formatted as ruff formats the other examples (pyproject.toml leaves this
    # file out, for the sake of its "#>" lines).
    eval_example.lint_black(demo)
    try:
        eval_example.run_print_check(demo)
    finally:
        dramatiq_logger.setLevel(level)  # The demo turns the worker's logs down.


def test_demo_command_prints_the_lines_the_page_shows(
    example: Example, project: Path
) -> None:
    [command] = example.commands("demo")
    assert command == "UNIT_TESTS=1 python join_demo.py"
    shown = [
        line.strip().removeprefix("#> ")
        for line in (project / "join_demo.py").read_text().splitlines()
        if line.strip().startswith("#> ")
    ]

    started = time.monotonic()
    result = run(command, project, {example.broker.url_variable: closed_url(example)})

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == shown
    # The demo hides the worker's tracebacks: nothing else reaches the terminal.
    assert result.stderr == ""
    assert time.monotonic() - started < 10


def test_procfile_processes_still_use_the_real_broker(
    example: Example, tmp_path: Path
) -> None:
    # Without UNIT_TESTS, tasks.py builds the real broker: the web process
    # queues the message there and the worker process runs it.
    worker = example.start("worker", tmp_path)
    port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(port)})
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the Flask app")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/add", data=b"x=1&y=2", method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
            assert json.load(response)["message_id"]

        worker.wait_for_output("The sum of 1 and 2 is 3.", timeout=20)
    finally:
        web.kill_group()
        worker.kill_group()


def test_procfile_is_the_quickstarts_unchanged(example: Example) -> None:
    # The page says so: adding tests changes nothing the processes run.
    quickstart = EXAMPLES / "quickstart" / example.broker.name / "Procfile"
    assert (example.path / "Procfile").read_text() == quickstart.read_text()


def test_requirements_include_pytest(example: Example) -> None:
    [install] = [c for c in example.commands("install") if "pip install" in c]
    requirements = example.path / shlex.split(install)[-1]
    assert "pytest" in requirements.read_text().split()
