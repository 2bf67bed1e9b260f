"""Every example's Flask app, probed the way the internet will probe it.

Each test runs once per example folder, against that folder's real broker:
the request its page shows queues one message and answers 202, or 503 when
the broker is down; oversized bodies get 413, random input never gets a
5xx, and a message is queued exactly when the app answers 202.
"""

from __future__ import annotations

import ast
import http.client
import io
import re
import shlex
import socket
import string
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import dramatiq
import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from support.brokers import hung_broker_url
from support.examples import (
    BROKER_UNAVAILABLE,
    Example,
    every_example_params,
    reachable,
)
from support.processes import free_port

ALWAYS_TRIED = ["x", "y", "email", "address", "username", "id", "n"]


@pytest.fixture(params=every_example_params())
def example(request: pytest.FixtureRequest) -> Example:
    return reachable(Example(request.param))


@pytest.fixture
def smtp_port() -> Iterator[int]:
    """A real SMTP server that accepts every e-mail (the performance example
    sends one inline), so a 5xx can only be the app's own fault."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port
    controller.stop()


@pytest.fixture
def app(
    example: Example, smtp_port: int, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    monkeypatch.setenv("SMTP_PORT", str(smtp_port))
    app = example.web_app(monkeypatch)
    queues = dramatiq.get_broker().get_declared_queues()
    for queue in queues:
        example.broker.flush(queue)
    yield app
    for queue in queues:
        example.broker.flush(queue)


def pending(example: Example) -> int:
    return sum(
        example.broker.pending(queue)
        for queue in dramatiq.get_broker().get_declared_queues()
    )


def field_names(example: Example) -> list[str]:
    """Words the example's code uses as strings: its form fields among them."""
    words = set(ALWAYS_TRIED)
    for path in example.path.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words.add(node.value)
    return sorted(word for word in words if re.fullmatch(r"[a-z_]{1,30}", word))


def routes(app: Flask) -> list[tuple[str, str]]:
    """(method, URL rule) for every view but Flask's static files."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


# The request each example's page shows: it queues one message. Two
# examples are left to their own modules: reliability's view also writes to
# its database, and results' also to its result store.
ADD = ("/add", {"x": "1", "y": "2"})
SHOWN_REQUESTS = {
    "quickstart": ADD,
    "deployment": ADD,
    "testing": ADD,
    "troubleshooting": ADD,
    "factory": ("/welcome", {"username": "Ada"}),
    "email": ("/welcome", {"to": "ada@example.com"}),
    "performance": ("/welcome", {"to": "ada@example.com"}),
    "security": ("/exports", {"account_id": "42"}),
    "worker_tuning": ("/reports", {"seconds": "1"}),
}


def examples_with_a_shown_request() -> list:
    return [
        param
        for param in every_example_params()
        if param.values[0].parent.name in SHOWN_REQUESTS
    ]


def test_every_example_but_two_has_a_shown_request() -> None:
    topics = {param.values[0].parent.name for param in every_example_params()}
    assert topics - set(SHOWN_REQUESTS) == {"reliability", "results"}


@pytest.mark.parametrize("example", examples_with_a_shown_request(), indirect=True)
def test_the_shown_request_answers_202_and_queues_exactly_one_message(
    example: Example, app: Flask
) -> None:
    path, form = SHOWN_REQUESTS[example.path.parent.name]

    response = app.test_client().post(path, data=form)

    assert response.status_code == 202, response.get_json()
    assert pending(example) == 1


@pytest.fixture(params=["refused", "hung"])
def broken_broker_url(
    request: pytest.FixtureRequest, example: Example
) -> Iterator[str]:
    """A broker URL where nothing listens, or where a server never answers."""
    if request.param == "hung":
        with hung_broker_url(example.broker) as url:
            yield url
    else:
        scheme = "amqp" if example.broker.name == "rabbitmq" else "redis"
        yield f"{scheme}://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("example", examples_with_a_shown_request(), indirect=True)
def test_an_unreachable_broker_answers_503_with_one_clear_line(
    example: Example, broken_broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(example.broker.url_variable, broken_broker_url)
    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # Never reached.
    app = example.web_app(monkeypatch)
    path, form = SHOWN_REQUESTS[example.path.parent.name]

    response = app.test_client().post(path, data=form)

    assert response.status_code == 503
    assert response.get_json() == BROKER_UNAVAILABLE
    assert response.data.count(b"\n") == 1


def test_app_runs_without_the_debugger(example: Example, app: Flask) -> None:
    assert "--debug" not in shlex.split(example.procfile_command("web"))
    assert not app.debug


def test_oversized_body_answers_413_and_enqueues_nothing(
    example: Example, app: Flask
) -> None:
    client = app.test_client()
    for method, rule in routes(app):
        if method == "POST":
            url = re.sub(r"<[^>]+>", "1", rule)
            response = client.post(url, data={"x": "1" * 20_000})
            assert response.status_code == 413, (method, rule)
            assert response.get_json() == {"error": RequestEntityTooLarge.description}
    assert pending(example) == 0


def test_random_requests_never_get_5xx_and_only_202_enqueues(
    example: Example, app: Flask
) -> None:
    client = app.test_client()
    known = field_names(example)
    names = st.sampled_from(known) | st.text(max_size=8)
    values = (
        st.text(max_size=40)
        | st.integers().map(str)
        | st.sampled_from(["0", "-1", "1.5", "1e9", "nan", " 7 ", "a@b.co", ""])
    )
    # Each field the code names is sent or not, so valid forms come up often.
    forms = st.fixed_dictionaries({}, optional=dict.fromkeys(known, values))
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3)
        ),
        max_leaves=6,
    )
    segments = st.text(string.printable, min_size=1, max_size=40)
    accepted = 0

    @settings(max_examples=100, deadline=None, database=None)
    @given(
        route=st.sampled_from(routes(app)),
        form=forms,
        body=json_values,
        as_json=st.booleans(),
        segment=segments,
    )
    def check(route, form, body, as_json, segment) -> None:
        nonlocal accepted
        method, rule = route
        url = re.sub(r"<[^>]+>", lambda _: quote(segment, safe=""), rule)
        if method == "GET":
            response = client.get(url)
        elif as_json:
            response = client.open(url, method=method, json=body)
        else:
            response = client.open(url, method=method, data=form)
        assert response.status_code < 500, (method, url, form, body)
        if response.status_code >= 400:
            assert "error" in response.get_json(), response.data
        accepted += response.status_code == 202

    check()
    assert pending(example) == accepted


MALFORMED_BODIES = {
    "multipart/form-data": b"x=1&y=2",  # no boundary
    "multipart/form-data; boundary=b": b"--b\r\nbroken",
    "application/json": b'{"x": 1,',
    "application/x-www-form-urlencoded; charset=bogus": b"x=%ff&y=2",
}


def test_malformed_bodies_get_a_4xx_in_one_line_of_json(
    example: Example, app: Flask
) -> None:
    client = app.test_client()
    for method, rule in routes(app):
        url = re.sub(r"<[^>]+>", "1", rule)
        for content_type, body in MALFORMED_BODIES.items():
            response = client.open(
                url, method=method, data=body, content_type=content_type
            )
            assert 400 <= response.status_code < 500, (url, content_type)
            assert response.data.count(b"\n") == 1, response.data
            assert set(response.get_json()) == {"error"}
    assert pending(example) == 0


def test_broker_errors_catch_what_a_hung_or_full_broker_raises(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that accepts connections and never answers gets a 503, not a 500.

    Every view catches ``BROKER_ERRORS`` to answer 503, so each example's
    tuple must hold what its own broker raises then: not only refused
    connections (the 503 tests of each chapter) but also the clients'
    timeouts, which Dramatiq does not wrap. A full Redis raises
    OutOfMemoryError: the reliability suite fills the shared Redis to show
    it, which parallel tests cannot do, so here the tuple is only read.
    """
    with hung_broker_url(example.broker) as url:
        monkeypatch.setenv(example.broker.url_variable, url)
        example.web_app(monkeypatch)
        # The results example names its tuple CONNECTION_ERRORS: it also
        # covers the result store.
        broker_errors = example.defined("BROKER_ERRORS", "CONNECTION_ERRORS")
        actor = next(iter(dramatiq.get_broker().actors.values()))
        with pytest.raises(broker_errors):
            actor.send()
    if example.broker.name == "redis":
        import redis

        assert issubclass(redis.exceptions.OutOfMemoryError, broker_errors)


def examples_defining(function: str) -> list:
    """The every_example_params() whose Python files define ``function``."""
    return [
        param
        for param in every_example_params()
        if any(
            f"def {function}(" in path.read_text()
            for path in param.values[0].rglob("*.py")
        )
    ]


# int() takes all of these; a 64-bit integer field must not.
NOT_64_BIT_INTEGERS = [
    "١٢",  # Arabic-Indic digits
    "１２",  # full-width digits
    "1_000",
    "0x10",
    "1e3",
    "+-1",
    str(2**63),
    str(-(2**63) - 1),
    "9" * 4_301,  # past Python's int-to-str limit: the worker could not print it
]
INTEGERS = {"0": 0, " +42 ": 42, "007": 7, "-9223372036854775808": -(2**63)}
INTEGERS["9223372036854775807"] = 2**63 - 1


@pytest.mark.parametrize("example", examples_defining("form_int"), indirect=True)
def test_integer_fields_take_ascii_digits_within_64_bits_only(
    example: Example, app: Flask
) -> None:
    form_int = example.defined("form_int")
    for value, number in INTEGERS.items():
        with app.test_request_context(method="POST", data={"n": value}):
            assert form_int("n") == number
    for value in NOT_64_BIT_INTEGERS:
        with (
            app.test_request_context(method="POST", data={"n": value}),
            pytest.raises(BadRequest) as refused,
        ):
            form_int("n")
        assert refused.value.description == (
            f"Field 'n' must be a 64-bit integer, got {value[:20]!r}."
        )


def test_chunked_body_that_reaches_the_limit_answers_413_and_enqueues_nothing(
    example: Example, app: Flask
) -> None:
    """Werkzeug stops reading a chunked body at MAX_CONTENT_LENGTH; the app
    must refuse it, not parse the part it read as a whole form.

    Real servers (gunicorn, Flask's own) mark their input as terminated,
    which the test client does not unless told.
    """
    client = app.test_client()
    limit = app.config["MAX_CONTENT_LENGTH"]
    fields = "&".join(f"{name}=1" for name in field_names(example))
    body = f"{fields}&pad={'a' * limit}&x=12345".encode()
    for method, rule in routes(app):
        if method != "POST":
            continue
        response = client.post(
            re.sub(r"<[^>]+>", "1", rule),
            input_stream=io.BytesIO(body),
            headers={
                "Transfer-Encoding": "chunked",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert response.status_code == 413, (rule, response.get_json())
        assert response.get_json() == {"error": RequestEntityTooLarge.description}
    assert pending(example) == 0


def post_chunked(port: int, body: bytes) -> tuple[int, bytes]:
    """POST ``body`` to /add in 1,000-byte chunks, with no Content-Length."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("POST", "/add")
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for start in range(0, len(body), 1000):
            chunk = body[start : start + 1000]
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def params_of(*topics: str) -> list:
    return [
        param
        for param in every_example_params()
        if param.values[0].parent.name in topics
    ]


@pytest.mark.parametrize(
    "example", params_of("quickstart", "deployment"), indirect=True
)
def test_chunked_body_over_the_limit_gets_413_from_flask_run_and_gunicorn(
    example: Example, app: Flask, tmp_path: Path
) -> None:
    """The quickstart serves with `flask run`, the deployment with gunicorn."""
    with example.web_server(tmp_path) as port:
        # y=2 comes first; x=12345 lies past the limit, where Werkzeug stops.
        body = b"y=2&pad=" + b"a" * (16 * 1024) + b"&x=12345"
        status, answer = post_chunked(port, body)
        too_large = RequestEntityTooLarge.description.encode()
        assert (status, answer) == (413, b'{"error":"%s"}\n' % too_large)
        # A chunked body under the limit is still welcome.
        assert post_chunked(port, b"x=1&y=2")[0] == 202
    assert pending(example) == 1


def raw_request(port: int, request: bytes) -> bytes:
    """Send bytes as they are, and return everything the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(request)
        answer = b""
        while data := client.recv(65536):
            answer += data
    return answer


@pytest.mark.parametrize("example", params_of("deployment"), indirect=True)
def test_gunicorn_answers_oversized_and_broken_requests_itself_in_html(
    example: Example, tmp_path: Path
) -> None:
    """What the security page says gunicorn answers before Flask sees a request."""
    many_fields = b"".join(b"X-%d: 1\r\n" % n for n in range(101))
    probes = {
        b"GET /" + b"a" * 4_094 + b" HTTP/1.1\r\n\r\n": b"414 URI Too Long",
        b"GET / HTTP/1.1\r\n" + many_fields + b"\r\n": b"431 Request Header",
        b"GET / HTTP/1.1\r\nX: " + b"a" * 8_190 + b"\r\n\r\n": b"431 Request Header",
        b"NONSENSE\r\n\r\n": b"400 Bad Request",
    }
    with example.web_server(tmp_path) as port:
        for request, status in probes.items():
            answer = raw_request(port, request)
            assert answer.startswith(b"HTTP/1.1 " + status), answer[:80]
            assert b"Content-Type: text/html" in answer
        # Just under the limits, Flask answers, in JSON.
        answer = raw_request(port, b"GET /" + b"a" * 4_000 + b" HTTP/1.0\r\n\r\n")
        assert answer.startswith(b"HTTP/1.0 404"), answer[:80]
        assert b"Content-Type: application/json" in answer
