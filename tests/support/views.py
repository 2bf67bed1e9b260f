"""What the tests of every example's Flask app share (test_example_*.py)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

import dramatiq
import pytest
from flask import Flask

from support.examples import Example, every_web_example_params, reachable
from support.one_machine import database_with_tables
from support.processes import free_port

# The examples whose POST views write rows (the others' views only queue, or
# read): their apps need a database with its tables.
WRITE_TO_A_DATABASE = {"database"}
ALWAYS_TRIED = ["x", "y", "email", "address", "username", "id", "n"]


@pytest.fixture(name="example", params=every_web_example_params())
def fixture_example(request: pytest.FixtureRequest) -> Example:
    return reachable(Example(request.param))


@pytest.fixture(name="smtp_port")
def fixture_smtp_port() -> Iterator[int]:
    """A real SMTP server that accepts every e-mail (the performance example
    sends one inline), so a 5xx can only be the app's own fault."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port
    controller.stop()


@pytest.fixture(name="database")
def fixture_database(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """For an example whose views write to a database: a database of the
    test's own in DATABASE_URL, with the tables the page's commands create."""
    if example.path.parent.name not in WRITE_TO_A_DATABASE:
        yield
        return
    with database_with_tables(example) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        yield


@pytest.fixture(name="app")
def fixture_app(
    example: Example, smtp_port: int, database: None, monkeypatch: pytest.MonkeyPatch
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


def examples_defining(function: str) -> list:
    """The every_web_example_params() whose Python files define ``function``."""
    return [
        param
        for param in every_web_example_params()
        if any(
            f"def {function}(" in path.read_text()
            for path in param.values[0].rglob("*.py")
        )
    ]
