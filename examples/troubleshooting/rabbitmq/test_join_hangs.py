"""BROKEN: this test never ends. Run it with pytest --log-cli-level=info."""

import dramatiq
from dramatiq.brokers.stub import StubBroker

broker = StubBroker()


@dramatiq.actor(broker=broker, queue_name="troubleshooting")
def add(x: int, y: int) -> None:
    print(f"The sum of {x} and {y} is {x + y}.")


def test_add() -> None:
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    add.send("1", 2)  # Raises TypeError in the worker, which retries it.
    broker.join(add.queue_name)  # Waits for every retry: weeks.
    worker.stop()
