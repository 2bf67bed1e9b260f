"""Through the real broker. Select with: pytest -m integration"""

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from flask.testing import FlaskClient

from tasks import add

pytestmark = pytest.mark.integration


def test_post_add_prints_the_sum_through_rabbitmq(
    client: FlaskClient,
    broker: dramatiq.Broker,
    worker: dramatiq.Worker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Fails when the run got the StubBroker: select this test with -m integration.
    assert isinstance(broker, RabbitmqBroker)

    response = client.post("/add", data={"x": "1", "y": "2"})
    assert response.status_code == 202

    # A network broker can stall: give join() a deadline, in milliseconds.
    broker.join(add.queue_name, timeout=10_000)
    worker.join()

    assert "The sum of 1 and 2 is 3." in capsys.readouterr().out
