"""The actors, written right. The worker imports this module; so does the app."""

import dramatiq

# Importing the broker first sets it before the decorators below run.
from broker import broker


@dramatiq.actor(broker=broker, queue_name="troubleshooting")
def add(x: int, y: int) -> None:
    print(f"The sum of {x} and {y} is {x + y}.")


@dramatiq.actor(
    broker=broker, queue_name="troubleshooting", store_results=True, max_retries=0
)
def divide(x: int, y: int) -> float:
    # store_results=True: the worker keeps the value for get_result().
    return x / y
