"""Fixtures every test can ask for: the broker, a worker and a Flask client."""

import os
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq.middleware import Retries
from flask.testing import FlaskClient


def pytest_configure(config: pytest.Config) -> None:
    # pytest calls this hook before it imports your test modules, so before
    # tasks.py picks its broker. Only `pytest -m integration` keeps the real one.
    if config.getoption("markexpr") != "integration":
        os.environ["UNIT_TESTS"] = "1"


@pytest.fixture
def broker() -> dramatiq.Broker:
    # Import here, not at the top: pytest imports this file before it calls
    # pytest_configure(), and tasks.py must see UNIT_TESTS first.
    from tasks import broker

    # Drop the messages and dead letters an earlier test left behind.
    broker.flush_all()
    # Fail at once: with the default 20 retries, a failing message waits
    # 15 s or more for its first retry, and join() waits with it.
    for middleware in broker.middleware:
        if isinstance(middleware, Retries):
            middleware.max_retries = 0
    return broker


@pytest.fixture
def worker(broker: dramatiq.Broker) -> Iterator[dramatiq.Worker]:
    # A worker in this process, with threads instead of processes. With
    # worker_timeout=100 it checks for stop() every 100 ms, not every second.
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def client() -> FlaskClient:
    from app import app

    # TESTING lets an error in a view fail the test with its traceback.
    app.config.update(TESTING=True)
    return app.test_client()
