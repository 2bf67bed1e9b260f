"""The Flask app: it sends an account's id, never the account itself."""

from flask import Flask, abort, request
from werkzeug.exceptions import HTTPException

from tasks import BROKER_ERRORS, export_account

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024


@app.post("/exports")
def enqueue_export() -> tuple[dict[str, str], int]:
    account_id = form_id("account_id")
    try:
        # The id travels as JSON. The actor loads the account itself.
        message = export_account.send(account_id)
    except BROKER_ERRORS as error:
        app.logger.warning("Cannot enqueue export_account(%d): %s", account_id, error)
        abort(503, "The message broker is unavailable. Try again later.")
    return {"message_id": message.message_id}, 202


def form_id(name: str) -> int:
    """Return form field ``name`` as a positive int, or stop with a 400."""
    value = request.form.get(name, "").strip()
    if not value:
        abort(400, f"Field {name!r} is required.")
    # ASCII digits only (int() also takes "4_2" or "+4"), and few enough to
    # fit the 64-bit id column of a database.
    digits = value.isascii() and value.isdigit() and len(value) <= 18
    if not digits or int(value) == 0:
        abort(400, f"Field {name!r} must be a positive integer, got {value[:20]!r}.")
    return int(value)


@app.errorhandler(HTTPException)
def json_error(error: HTTPException) -> tuple[dict[str, str], int]:
    """Answer every HTTP error with one line of JSON, never a debug page."""
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
