"""Two views that do the same slow work: one in the request, one in the worker."""

import smtplib
from email.message import EmailMessage

from email_validator import EmailNotValidError, validate_email
from flask import Flask, abort, request
from werkzeug.exceptions import HTTPException

from tasks import BROKER_ERRORS, send_welcome

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024


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
    """Return form field ``name`` as an ASCII e-mail address, or stop with a 400."""
    value = request.form.get(name, "").strip()
    if not value:
        abort(400, f"Field {name!r} is required.")
    try:
        # The syntax mail servers accept, ASCII only, at most 254 characters.
        # No DNS lookup: only the mail server knows whether the address exists.
        checked = validate_email(
            value, allow_smtputf8=False, check_deliverability=False
        )
    except EmailNotValidError as error:
        abort(400, f"Field {name!r} must be an e-mail address: {error}")
    # The worker writes the address into the To: header, whose parser decodes
    # "=?utf-8?q?...?=" even inside an address: the header must show the
    # address the envelope sends to.
    header = EmailMessage()
    header["To"] = checked.ascii_email
    if header["To"] != checked.ascii_email:
        abort(400, f"Field {name!r} must be a plain address, got {value[:20]!r}.")
    return checked.ascii_email


@app.errorhandler(HTTPException)
def json_error(error: HTTPException) -> tuple[dict[str, str], int]:
    """Answer every HTTP error with one line of JSON instead of an HTML page."""
    return {"error": error.description}, error.code


@app.before_request
def refuse_cut_off_body() -> None:
    """Answer 413 to a chunked request body that reaches MAX_CONTENT_LENGTH.

    Flask checks the limit against the Content-Length header. A chunked body
    has none: Werkzeug stops reading it at the limit and would parse the
    part it read as if it were the whole form.
    """
    limit = app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(request.get_data()) >= limit:
        abort(413)
