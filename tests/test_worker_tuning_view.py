"""docs/worker_tuning.rst, 'Queue a report from a view'.

The view follows the rules of docs/views.rst: it checks the input, queues the
report on the slow queue and answers 202, or 503 when the broker is down.
"""

from __future__ import annotations

import pytest

from support.examples import Example
from support.worker_tuning import (
    FAST_QUEUE,
    SLOW_QUEUE,
    fixture_example,  # noqa: F401  (the fixture "example")
)

# The shared fixture, bound here by name for pytest to find.


@pytest.mark.parametrize(
    ("seconds", "error"),
    [
        (None, "Field 'seconds' is required."),
        (" ", "Field 'seconds' is required."),
        ("two", "Field 'seconds' must be a number, got 'two'."),
        ("0", "Field 'seconds' must be more than 0 and at most 20."),
        ("-1", "Field 'seconds' must be more than 0 and at most 20."),
        ("21", "Field 'seconds' must be more than 0 and at most 20."),
        ("nan", "Field 'seconds' must be more than 0 and at most 20."),
        ("inf", "Field 'seconds' must be more than 0 and at most 20."),
    ],
    ids=["missing", "blank", "word", "zero", "negative", "too-long", "nan", "inf"],
)
def test_bad_input_answers_400_and_enqueues_nothing(
    example: Example,
    monkeypatch: pytest.MonkeyPatch,
    seconds: str | None,
    error: str,
) -> None:
    app = example.load("app", monkeypatch).app
    form = {} if seconds is None else {"seconds": seconds}

    response = app.test_client().post("/reports", data=form)

    assert response.status_code == 400
    assert response.get_json() == {"error": error}
    assert example.broker.pending(SLOW_QUEUE) == 0


def test_valid_input_enqueues_one_report_on_the_slow_queue(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = example.load("app", monkeypatch).app

    response = app.test_client().post("/reports", data={"seconds": "2.5"})

    assert response.status_code == 202
    assert example.broker.pending(SLOW_QUEUE) == 1
    assert example.broker.pending(FAST_QUEUE) == 0
