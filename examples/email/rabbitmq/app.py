"""The Flask app: it checks the address, enqueues the e-mail and answers at once."""

import re
import uuid

from flask import Flask, abort, request
from werkzeug.exceptions import HTTPException

from tasks import BROKER_ERRORS, send_email

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024

# The plain addresses nearly everyone has, such as ada.lovelace+news@example.com.
# No spaces, line breaks, commas or angle brackets: nothing that could add a
# second recipient or a header. Non-ASCII addresses are refused too.
ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
)


@app.post("/welcome")
def enqueue_welcome() -> tuple[dict[str, str], int]:
    to = form_address("to")
    # A new id per e-mail. It travels inside the message, so every copy of
    # the message the broker delivers carries the same id.
    email_id = uuid.uuid4().hex
    try:
        send_email.send(email_id, to, "Welcome!", "Hello,\n\nthanks for signing up.\n")
    except BROKER_ERRORS as error:
        app.logger.warning("Cannot enqueue the welcome e-mail: %s", error)
        abort(503, "The message broker is unavailable. Try again later.")
    # 202 Accepted: the e-mail is queued, not sent.
    return {"email_id": email_id}, 202


def form_address(name: str) -> str:
    """Return form field ``name`` as an e-mail address, or stop with a 400."""
    value = request.form.get(name, "").strip()
    if not value:
        abort(400, f"Field {name!r} is required.")
    # SMTP carries addresses of at most 254 characters.
    if len(value) > 254:
        abort(400, f"Field {name!r} must be at most 254 characters long.")
    # fullmatch, not match: the whole value must be one address.
    if not ADDRESS.fullmatch(value):
        abort(400, f"Field {name!r} must be an e-mail address, got {value!r}.")
    return value


@app.errorhandler(HTTPException)
def json_error(error: HTTPException) -> tuple[dict[str, str], int]:
    """Answer every HTTP error with one line of JSON instead of an HTML page."""
    return {"error": error.description}, error.code
