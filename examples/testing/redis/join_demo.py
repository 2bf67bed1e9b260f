"""What join() does when an actor fails. Run it with UNIT_TESTS=1."""

import logging

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import QueueJoinTimeout

from tasks import add, broker

assert isinstance(broker, StubBroker), "Run this file with UNIT_TESTS=1."
# The worker logs every failure with its traceback: too long for this demo.
logging.getLogger("dramatiq").setLevel(logging.CRITICAL)
worker = dramatiq.Worker(broker, worker_timeout=100)
worker.start()

# 1. join() raises the error of a message that failed for good.
add.send_with_options(args=("1", 2), max_retries=0)
try:
    broker.join(add.queue_name)
except TypeError as error:
    print(f"join() raised {error!r}")
    #> join() raised TypeError('can only concatenate str (not "int") to str')

# 2. With fail_fast=False, join() returns. Both failed messages are dead letters.
add.send_with_options(args=("1", 2), max_retries=0)
broker.join(add.queue_name, fail_fast=False)
print(len(broker.dead_letters), "dead letters")
#> 2 dead letters

# 3. flush_all() drops the queued messages and the dead letters.
broker.flush_all()
print(len(broker.dead_letters), "dead letters")
#> 0 dead letters

# 4. With the default 20 retries, the first retry comes 15 s or more later,
#    and join() waits for it.
add.send("1", 2)
try:
    broker.join(add.queue_name, timeout=1_000)
except QueueJoinTimeout:
    print("join() still waiting after 1 s")
    #> join() still waiting after 1 s

# 5. Stopping the worker drops that retry, but the queue still counts it:
#    every later join() on the queue, as in your next test, waits forever.
worker.stop()
broker.flush_all()
try:
    broker.join(add.queue_name, timeout=1_000)
except QueueJoinTimeout:
    print("join() of an empty queue still waiting after 1 s")
    #> join() of an empty queue still waiting after 1 s
