"""Every example's Flask app refuses bodies it must not read, in one line of JSON.

Each test runs once per example folder, against that folder's real broker:
oversized and chunked bodies get 413, malformed ones a 4xx, and gunicorn
answers broken requests itself; none of them queues a message.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.exceptions import RequestEntityTooLarge

from support.examples import (
    Example,
    every_web_example_params,
)
from support.views import (
    field_names,
    fixture_app,  # noqa: F401  (the fixture "app")
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_smtp_port,  # noqa: F401  (the fixture "smtp_port")
    pending,
    routes,
)


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
            assert response.data.count(b"\n") == 1, response.data
            if method == "GET":
                # A GET never reads its body: it answers as without one.
                assert response.status_code < 500, (url, content_type)
                continue
            assert 400 <= response.status_code < 500, (url, content_type)
            assert set(response.get_json()) == {"error"}
    assert pending(example) == 0


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
        for param in every_web_example_params()
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
