"""The view, with the StubBroker and a worker in the test process."""

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from flask.testing import FlaskClient

from tasks import add


def test_post_add_prints_the_sum(
    client: FlaskClient,
    broker: dramatiq.Broker,
    worker: dramatiq.Worker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    response = client.post("/add", data={"x": "1", "y": "2"})
    assert response.status_code == 202

    # Wait until the queue is empty, then until the worker is idle.
    broker.join(add.queue_name)
    worker.join()

    assert "The sum of 1 and 2 is 3." in capsys.readouterr().out


def test_bad_input_enqueues_nothing(client: FlaskClient, broker: StubBroker) -> None:
    response = client.post("/add", data={"x": "a", "y": "2"})

    assert response.status_code == 400
    # No worker here: a message would still wait in the queue.
    assert broker.queues[add.queue_name].qsize() == 0
