"""docs/task_status.rst, "Answer with the task's location" and "Report the task's
state": bad input gets a 400, a down or hung broker or result store a 503."""

from __future__ import annotations

import time
import uuid

import pytest

from support.brokers import REDIS, hung_server
from support.examples import (
    BROKER_UNAVAILABLE,
    Example,
)
from support.processes import free_port
from support.results import QUEUE, fixture_example  # noqa: F401  (the fixture "example")


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "Field 'x' is required."),
        ({"x": "1"}, "Field 'y' is required."),
        ({"x": "a", "y": "2"}, "Field 'x' must be a 64-bit integer, got 'a'."),
    ],
    ids=["empty", "missing-y", "letter"],
)
def test_bad_input_answers_400_and_enqueues_nothing(
    example: Example,
    monkeypatch: pytest.MonkeyPatch,
    form: dict[str, str],
    error: str,
) -> None:
    client = example.load("app", monkeypatch).app.test_client()

    response = client.post("/divide", data=form)

    assert response.status_code == 400
    assert response.get_json() == {"error": error}
    assert example.broker.pending(QUEUE) == 0


def test_post_answers_503_and_queues_nothing_when_broker_or_redis_is_down(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RabbitMQ variant: RabbitMQ or Redis may be down. Redis variant: Redis.
    for variable in sorted({example.broker.url_variable, REDIS.url_variable}):
        scheme = "amqp" if variable == "RABBITMQ_URL" else "redis"
        with monkeypatch.context() as patch:
            patch.setenv(variable, f"{scheme}://127.0.0.1:{free_port()}")
            client = example.load("app", patch).app.test_client()
            response = client.post("/divide", data={"x": "1", "y": "2"})

        assert response.status_code == 503, variable
        assert response.get_json() == BROKER_UNAVAILABLE, variable
        assert example.broker.pending(QUEUE) == 0, variable


def test_status_answers_503_when_redis_is_down(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REDIS.url_variable, f"redis://127.0.0.1:{free_port()}")
    client = example.load("app", monkeypatch).app.test_client()

    response = client.get(f"/tasks/{uuid.uuid4()}")

    assert response.status_code == 503
    assert response.get_json() == BROKER_UNAVAILABLE


def test_status_answers_503_within_2_s_when_redis_hangs(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A frozen Redis; its URL sets no timeout, so the code's 2 s applies.
    with hung_server() as port:
        monkeypatch.setenv(REDIS.url_variable, f"redis://127.0.0.1:{port}/0")
        client = example.load("app", monkeypatch).app.test_client()

        started = time.monotonic()
        response = client.get(f"/tasks/{uuid.uuid4()}")
        took = time.monotonic() - started

    assert response.status_code == 503
    assert response.get_json() == BROKER_UNAVAILABLE
    # redis-py's own default would be 5 s; older redis-py has none.
    assert 1.9 < took < 4, took
