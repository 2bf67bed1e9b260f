"""BROKEN: divide returns a value but does not store it. Compare with tasks.py."""

import dramatiq

from broker import broker


@dramatiq.actor(broker=broker, queue_name="troubleshooting", max_retries=0)
def divide(x: int, y: int) -> float:
    return x / y
