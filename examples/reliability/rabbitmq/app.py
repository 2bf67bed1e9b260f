"""The Flask app: it checks the request, enqueues the import and answers at once."""

import re
import uuid

from flask import Flask, abort, request
from werkzeug.exceptions import HTTPException

from database import DATABASE_ERRORS
from key_log import claim
from tasks import BROKER_ERRORS, import_file

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024

# A file name in the uploads folder: no slashes and no leading dot, so a
# request cannot point the worker at a file elsewhere on the disk.
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# What a client may send as its Idempotency-Key header, such as a UUID.
KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


@app.post("/imports")
def enqueue_import() -> tuple[dict[str, str], int]:
    name = form_file_name("name")
    import_id = idempotency_key(name)
    try:
        # Sent again for a repeated key: the first send may not have got
        # through. The worker skips the copy if it did.
        import_file.send(import_id, name)
    except BROKER_ERRORS as error:
        app.logger.warning("Cannot enqueue the import of %s: %s", name, error)
        abort(503, "The message broker is unavailable. Try again later.")
    # 202 Accepted: the import is queued, not done.
    return {"import_id": import_id}, 202


def form_file_name(name: str) -> str:
    """Return form field ``name`` as a file name, or stop the request with a 400."""
    value = request.form.get(name, "").strip()
    if not value:
        abort(400, f"Field {name!r} is required.")
    if not FILE_NAME.fullmatch(value):
        abort(400, f"Field {name!r} must be a plain file name, got {value[:20]!r}.")
    return value


def idempotency_key(name: str) -> str:
    """The import id: the client's Idempotency-Key header, or a new id without one.

    A client that retries after a 503 or a timeout sends the same key again,
    so the worker imports the file once, however many requests got through.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return uuid.uuid4().hex
    if not KEY.fullmatch(key):
        abort(400, "Header 'Idempotency-Key' must be 1 to 64 letters, digits, - or _.")
    try:
        same_file = claim(key, name)
    except DATABASE_ERRORS as error:
        # As for the broker: a 503 tells the client to retry with the same key.
        app.logger.warning("Cannot record Idempotency-Key %s: %s", key, error)
        abort(503, "The database is unavailable. Try again later.")
    # A key names one import. Reused for another file, it is a client's bug:
    # refuse it rather than skip the new import without a word.
    if not same_file:
        abort(422, f"Idempotency-Key {key!r} was used for another file.")
    return key


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
