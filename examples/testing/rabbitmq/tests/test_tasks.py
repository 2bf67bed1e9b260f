"""The actor alone, and what join() does when it fails."""

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from tasks import add


def test_add_prints_the_sum(capsys: pytest.CaptureFixture[str]) -> None:
    # Calling an actor runs it here and now, without a broker or a worker.
    add(1, 2)

    assert capsys.readouterr().out == "The sum of 1 and 2 is 3.\n"


def test_join_raises_the_actors_error(
    broker: StubBroker, worker: dramatiq.Worker
) -> None:
    add.send("1", 2)

    # Dramatiq 2: join() raises the error of a message that failed.
    with pytest.raises(TypeError, match="can only concatenate str"):
        broker.join(add.queue_name)


def test_failed_message_is_a_dead_letter(
    broker: StubBroker, worker: dramatiq.Worker
) -> None:
    add.send("1", 2)

    # fail_fast=False: join() returns, and the test checks the failure.
    broker.join(add.queue_name, fail_fast=False)
    worker.join()

    [message] = broker.dead_letters
    assert message.args == ("1", 2)
