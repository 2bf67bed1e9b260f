"""Two views that do the same slow work: one in the request, one in the worker."""

import re
import smtplib

from flask import Flask, abort, request
from werkzeug.exceptions import HTTPException

from tasks import BROKER_ERRORS, send_welcome

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024

# The plain addresses nearly everyone has, such as ada.lovelace+news@example.com.
ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
)


@app.post("/welcome/inline")
def welcome_inline() -> tuple[dict[str, str], int]:
    to = form_address("to")
    try:
        # Calling the actor runs its function here: the client waits for SMTP.
        send_welcome(to)
    except (OSError, smtplib.SMTPException) as error:
        app.logger.warning("Cannot send the welcome e-mail: %s", error)
        abort(503, "The mail server is unreachable. Try again later.")
    return {"sent_to": to}, 200


@app.post("/welcome")
def welcome() -> tuple[dict[str, str], int]:
    to = form_address("to")
    try:
        # .send() only queues the message: the worker talks to SMTP.
        message = send_welcome.send(to)
    except BROKER_ERRORS as error:
        app.logger.warning("Cannot enqueue the welcome e-mail: %s", error)
        abort(503, "The message broker is unavailable. Try again later.")
    # 202 Accepted: the e-mail is queued, not sent.
    return {"message_id": message.message_id}, 202


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
