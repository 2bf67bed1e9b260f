"""Configure, "A broker that stops answering": a sick broker costs seconds, not minutes.

A proxy between the app and the test's broker stops forwarding, both ways,
and keeps every socket open: the broker hangs, as a frozen node or a network
that drops packets makes it. The quickstart serves with ``flask run``, the
deployment with gunicorn (2 processes of 4 threads), each from its Procfile:
a send answers 503 within 5 s, a route that does not send stays fast, and
once the broker answers again the next send gets 202. And a process out of
file descriptors answers 503 too, not 500.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dramatiq
import pytest

from support.examples import (
    BROKER_UNAVAILABLE,
    Example,
    every_example_params,
    has_web_app,
    with_empty_queues,
)
from support.figures import record
from support.processes import free_port
from support.stall_proxy import StallProxy

QUEUES = {"quickstart": "default", "deployment": "deployment"}
# What the Configure page promises: a 503 within 5 s, a fast route meanwhile.
MAX_SECONDS_TO_503 = 5.0
MAX_SECONDS_NOT_SENDING = 1.0
# As many sends at once as the deployment's gunicorn has threads (2 x 4).
CONCURRENT_SENDS = 8
UNAVAILABLE = json.dumps(BROKER_UNAVAILABLE, separators=(",", ":")) + "\n"


@pytest.fixture(
    params=[
        param
        for param in every_example_params()
        if param.values[0].parent.name in QUEUES
    ]
)
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    folder = request.param
    yield from with_empty_queues(Example(folder), queues=(QUEUES[folder.parent.name],))


@pytest.fixture
def proxy(example: Example) -> Iterator[StallProxy]:
    proxy = StallProxy(example.broker.address, free_port())
    yield proxy
    proxy.close()


def request(port: int, method: str) -> tuple[int | None, str, float]:
    """(status, body, seconds) of one request to /add; status None past 15 s."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    started = time.monotonic()
    try:
        body = "x=1&y=2" if method == "POST" else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        connection.request(method, "/add", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode(), time.monotonic() - started
    except TimeoutError:
        return None, "", time.monotonic() - started
    finally:
        connection.close()


@pytest.mark.measure
def test_hung_broker_gets_503_within_5_s_and_202_once_it_answers(
    example: Example, proxy: StallProxy, tmp_path: Path
) -> None:
    url = proxy.url(example.broker.url)
    broker = example.broker.name
    # `flask run --without-threads` serves one request at a time (see the
    # Procfile): there, sends queue behind each other, and a route that does
    # not send waits for the one send in progress, 2 s at most.
    one_at_a_time = "--without-threads" in example.procfile_command("web")
    concurrent_sends = 1 if one_at_a_time else CONCURRENT_SENDS
    not_sending = MAX_SECONDS_TO_503 if one_at_a_time else MAX_SECONDS_NOT_SENDING
    with (
        example.web_server(tmp_path, url) as port,
        ThreadPoolExecutor(CONCURRENT_SENDS) as pool,
    ):
        # Open connections first: the hang must catch them mid-use.
        warm = list(pool.map(lambda _: request(port, "POST"), range(4)))
        assert [status for status, _, _ in warm] == [202] * 4, warm

        proxy.stall()
        sends = [
            result
            # One at a time, two sends show the wait does not add up.
            for _ in range(2 if one_at_a_time else 1)
            for result in pool.map(
                lambda _: request(port, "POST"), range(concurrent_sends)
            )
        ]
        seconds = sorted(round(took, 2) for _, _, took in sends)
        print(
            f"{example}: {len(sends)} sends, {concurrent_sends} at a time, to a hung broker "
            f"answered in {seconds[0]} / {statistics.median(seconds)} / {seconds[-1]} s "
            "(min / median / max)"
        )
        for status, body, took in sends:
            assert (status, body) == (503, UNAVAILABLE), (status, body, took)
            assert took < MAX_SECONDS_TO_503, seconds
        if example.path.parent.name == "deployment":  # gunicorn, as Configure says
            record(
                "configure",
                f"hung_broker.slowest_503_seconds.{broker}",
                round(seconds[-1], 1),
            )

        # While a send waits on the hung broker, a route that does not send
        # (GET /add answers 405) gets a thread and an answer at once, or,
        # under the one-thread dev server, right after that send gives up.
        pending = pool.submit(request, port, "POST")
        status, _, took = request(port, "GET")
        print(f"{example}: GET /add answered {status} in {took:.3f} s meanwhile")
        assert status == 405
        assert took < not_sending
        if example.path.parent.name == "deployment":
            record(
                "configure", f"hung_broker.other_route_ms.{broker}", round(took * 1e3)
            )
        assert pending.result()[:2] == (503, UNAVAILABLE)

        proxy.resume()
        status, body, took = request(port, "POST")
        assert status == 202, body
    assert example.broker.pending(QUEUES[example.path.parent.name]) >= 5


OUT_OF_FILES = """
import json, os, resource
from app import app

# Import what a request needs first: importing opens files.
client = app.test_client()
assert client.post("/add", data={"x": "1"}).status_code == 400
# No file descriptor left: every new socket fails with EMFILE.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 16, hard))
held = []
try:
    while True:
        held.append(open(os.devnull))
except OSError:
    pass
starved = client.post("/add", data={"x": "1", "y": "2"})
for file in held:
    file.close()
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
again = client.post("/add", data={"x": "1", "y": "2"})
print(json.dumps([starved.status_code, starved.get_json(), again.status_code]))
"""


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts fds in /proc")
@pytest.mark.parametrize(
    "example",
    [p for p in every_example_params() if p.values[0].parent.name == "quickstart"],
    indirect=True,
)
def test_process_out_of_file_descriptors_answers_503_not_500(
    example: Example,
) -> None:
    """pika raises a bare OSError then, before Dramatiq can wrap it."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(OUT_OF_FILES)],
        cwd=example.path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    starved, answer, again = json.loads(result.stdout.splitlines()[-1])
    assert (starved, answer) == (503, BROKER_UNAVAILABLE), result.stderr[-2000:]
    assert again == 202


@pytest.mark.parametrize(
    "example",
    # publish_timeout.py is RabbitMQ's.
    [
        p
        for p in every_example_params()
        if p.values[0].parent.name == "quickstart" and p.values[0].name == "rabbitmq"
    ],
    indirect=True,
)
def test_publish_timeout_ends_the_wait_for_a_confirm_that_never_comes(
    example: Example, proxy: StallProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The middleware's calls into pika's internals still work (pika 1.x).

    One thread keeps its connection, as a gunicorn thread (or the one thread
    of flask run --without-threads) does, and the hang meets the timer.
    """
    monkeypatch.setenv(example.broker.url_variable, proxy.url(example.broker.url))
    tasks = example.load("tasks", monkeypatch)
    from publish_timeout import PublishFailed

    tasks.add.send(1, 2)
    connection = tasks.broker.connection
    proxy.stall()
    started = time.monotonic()
    with pytest.raises(PublishFailed, match="No confirm from RabbitMQ within 2 s"):
        tasks.add.send(3, 4)
    took = time.monotonic() - started
    print(f"{example}: the timer ended the send after {took:.2f} s")
    assert 2 <= took < 3
    assert connection.is_closed  # Ended by the timer, not by a new connection.
    proxy.resume()
    assert tasks.add.send(5, 6).message_id
    tasks.broker.close()


@pytest.mark.parametrize("folder", every_example_params())
def test_every_broker_block_bounds_its_waits_and_catches_oserror(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every example's broker: 2 s timeouts in the code, OSError in the tuple."""
    example = Example(folder)
    if has_web_app(folder):
        example.web_app(monkeypatch)
    else:
        example.load("tasks", monkeypatch)
    errors = example.defined("BROKER_ERRORS", "CONNECTION_ERRORS")
    assert issubclass(OSError, errors)
    broker = dramatiq.get_broker()
    if example.broker.name == "rabbitmq":
        assert broker.parameters.stack_timeout == 2
        [timeout] = [
            m for m in broker.middleware if type(m).__name__ == "PublishTimeout"
        ]
        assert timeout.seconds == 2
    else:
        kwargs = broker.client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 2
