"""Every example's Flask app, probed the way the internet will probe it.

Each test runs once per example folder, against that folder's real broker:
oversized bodies get 413, random input never gets a 5xx, and a message is
queued exactly when the app answers 202.
"""

from __future__ import annotations

import ast
import re
import shlex
import string
import sys
from collections.abc import Iterator
from urllib.parse import quote

import dramatiq
import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import RequestEntityTooLarge

from conftest import Example, every_example_params, hung_broker_url, reachable
from processes import free_port

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
        [broker_errors] = {
            getattr(module, name)
            for module in list(sys.modules.values())
            if str(getattr(module, "__file__", "")).startswith(str(example.path))
            for name in ("BROKER_ERRORS", "CONNECTION_ERRORS")
            if hasattr(module, name)
        }
        actor = next(iter(dramatiq.get_broker().actors.values()))
        with pytest.raises(broker_errors):
            actor.send()
    if example.broker.name == "redis":
        import redis

        assert issubclass(redis.exceptions.OutOfMemoryError, broker_errors)
