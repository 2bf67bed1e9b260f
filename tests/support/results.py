"""What the tests of examples/results share (docs/results.rst)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.brokers import REDIS
from support.examples import Example, example_params, with_empty_queues

QUEUE = "results"


@pytest.fixture(name="example", params=example_params("results"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    # Both variants keep their results in Redis, the RabbitMQ one too.
    if not REDIS.is_reachable():
        pytest.fail(REDIS.unreachable_message(), pytrace=False)
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))
