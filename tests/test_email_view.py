"""docs/email_once.rst, 'Queue the e-mail from a view'.

The view answers 400 for a missing or malformed address and queues nothing,
202 with the e-mail's id for a good one, and 503 when the broker is down.
"""

from __future__ import annotations

import pytest

from support.email import (
    QUEUE,
    fixture_example,  # noqa: F401  (the fixture "example")
)
from support.examples import Example


def not_an_address(reason: str) -> str:
    return f"Field 'to' must be an e-mail address: {reason}"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "Field 'to' is required."),
        ({"to": "  "}, "Field 'to' is required."),
        ({"to": "ada"}, not_an_address("An email address must have an @-sign.")),
        (
            {"to": "ada@localhost"},
            not_an_address(
                "The part after the @-sign is not valid. It should have a period."
            ),
        ),
        (
            {"to": "ada@example.com, bob@example.com"},
            not_an_address(
                "The part after the @-sign contains invalid characters: "
                "',', '@', SPACE."
            ),
        ),
        (
            {"to": "ada@example.com\nBcc: bob@example.com"},
            not_an_address(
                "The part after the @-sign contains invalid characters: "
                "':', '@', SPACE, U+000A."
            ),
        ),
        (
            {"to": "Ada <ada@example.com>"},
            not_an_address(
                "A display name and angle brackets around the email address "
                "are not permitted here."
            ),
        ),
        (
            {"to": "ü@example.com"},
            not_an_address(
                "Internationalized characters before the @-sign are not supported: 'ü'."
            ),
        ),
        (
            {"to": "..@-.-"},
            not_an_address(
                "An email address cannot have a period immediately before the @-sign."
            ),
        ),
        (
            # The To: header would read "eve@evil.test"@example.com.
            {"to": "=?utf-8?q?eve=40evil.test?=@example.com"},
            "Field 'to' must be a plain address, got '=?utf-8?q?eve=40evil'.",
        ),
        (
            {"to": "a" * 243 + "@example.com"},
            not_an_address("The email address is too long (1 character too many)."),
        ),
    ],
    ids=[
        "empty",
        "blank",
        "no-at",
        "no-dot",
        "two",
        "header",
        "name",
        "non-ascii",
        "dots",
        "encoded-word",
        "long",
    ],
)
def test_bad_input_answers_400_and_enqueues_nothing(
    example: Example,
    monkeypatch: pytest.MonkeyPatch,
    form: dict[str, str],
    error: str,
) -> None:
    app = example.load("app", monkeypatch).app

    response = app.test_client().post("/welcome", data=form)

    assert response.status_code == 400
    assert response.get_json() == {"error": error}
    assert example.broker.pending(QUEUE) == 0
