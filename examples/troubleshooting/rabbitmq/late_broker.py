"""BROKEN: the actor is declared before the broker is set. Compare with tasks.py."""

import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker


@dramatiq.actor(queue_name="troubleshooting")
def add(x: int, y: int) -> None:
    print(f"The sum of {x} and {y} is {x + y}.")


# Too late: add is already bound to a broker that Dramatiq made up.
broker = RabbitmqBroker(url=os.environ.get("RABBITMQ_URL", "amqp://127.0.0.1:5672"))
dramatiq.set_broker(broker)
