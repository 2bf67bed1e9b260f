"""What the tests of examples/results share (docs/results.rst)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.examples import Example, example_params, with_redis_and_empty_queues

QUEUE = "results"


@pytest.fixture(name="example", params=example_params("results"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    # Both variants keep their results in Redis, the RabbitMQ one too.
    yield from with_redis_and_empty_queues(Example(request.param), queues=(QUEUE,))
