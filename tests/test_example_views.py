"""Every example's Flask app answers the requests its page shows, and never a 5xx.

Each test runs once per example folder, against that folder's real broker:
the request its page shows queues one message and answers 202, or 503 when
the broker is down; random input never gets a 5xx, and a message is queued
exactly when the app answers 202; integer fields take 64-bit ASCII only.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Iterator
from urllib.parse import quote

import dramatiq
import pytest
from flask import Flask
from werkzeug.exceptions import BadRequest

from support.brokers import hung_broker_url
from support.examples import (
    BROKER_UNAVAILABLE,
    Example,
    every_web_example_params,
)
from support.processes import free_port
from support.views import (
    examples_defining,
    field_names,
    fixture_app,  # noqa: F401  (the fixture "app")
    fixture_database,  # noqa: F401  (the fixture "database")
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_smtp_port,  # noqa: F401  (the fixture "smtp_port")
    pending,
    routes,
)

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
    "logs": ("/feeds", {"url": "http://127.0.0.1:9/feed.xml"}),
    "metrics": ("/feeds", {"url": "http://127.0.0.1:9/feed.xml"}),
    "health": ("/feeds", {"url": "http://127.0.0.1:9/feed.xml"}),
    "hosts": ("/imports", {"url": "http://127.0.0.1:9/feed.xml"}),
    "ha": ("/imports", {"url": "http://127.0.0.1:9/feed.xml"}),
    "autoscaling": ("/imports", {"url": "http://127.0.0.1:9/feed.xml"}),
    "database": ("/users", {"name": "Ada"}),
    # One document: one pipeline, whose first step alone is queued.
    "groups": ("/jobs", {"document": "<p>Hello, world</p>"}),
    "progress": ("/reports", {"pages": "10"}),
    "flask_dramatiq": ADD,
}


def examples_with_a_shown_request() -> list:
    return [
        param
        for param in every_web_example_params()
        if param.values[0].parent.name in SHOWN_REQUESTS
    ]


def test_every_example_but_two_has_a_shown_request() -> None:
    topics = {param.values[0].parent.name for param in every_web_example_params()}
    assert topics - set(SHOWN_REQUESTS) == {"reliability", "results"}


@pytest.mark.smoke
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
    example: Example,
    broken_broker_url: str,
    database: None,
    monkeypatch: pytest.MonkeyPatch,
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


def test_random_requests_never_get_5xx_and_only_202_enqueues(
    example: Example, app: Flask
) -> None:
    # Imported here: the smoke run imports this module in every test process
    # and never runs this test.
    from hypothesis import given, settings
    from hypothesis import strategies as st

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

    # 40 requests an example, 720 a `nox` run: as many as the views' two or
    # three fields need, at a fifth of a second of CPU an example.
    @settings(max_examples=40, deadline=None, database=None)
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
        broker_errors = example.defined("BROKER_ERRORS", "CONNECTION_ERRORS")
        actor = next(iter(dramatiq.get_broker().actors.values()))
        with pytest.raises(broker_errors):
            actor.send()
    if example.broker.name == "redis":
        import redis

        assert issubclass(redis.exceptions.OutOfMemoryError, broker_errors)


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
