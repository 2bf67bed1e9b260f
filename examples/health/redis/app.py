"""The Flask app: it queues feed imports, and answers its health checks."""

from urllib.parse import urlsplit

from flask import Flask, abort, request
from werkzeug.exceptions import HTTPException

from tasks import BROKER_ERRORS, import_feed, ping

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024


@app.post("/feeds")
def enqueue_import() -> tuple[dict[str, str], int]:
    url = form_url("url")
    try:
        message = import_feed.send(url)
    except BROKER_ERRORS as error:
        app.logger.warning("Cannot queue import_feed: %s", error)
        abort(503, "The message broker is unavailable. Try again later.")
    return {"message_id": message.message_id}, 202


@app.get("/health/live")
def live() -> dict[str, str]:
    """Liveness: the app answers. Never ask the broker here: restarting the
    app would not bring the broker back, and every copy would restart."""
    return {"status": "alive"}


@app.get("/health/ready")
def ready() -> dict[str, str]:
    """Readiness: send this copy requests only while it can reach the broker."""
    try:
        ping()
    except BROKER_ERRORS as error:
        app.logger.warning("Not ready: %s", error)
        abort(503, "The message broker is unavailable. Try again later.")
    return {"status": "ready"}


def form_url(name: str) -> str:
    """Return form field ``name`` as an http or https URL, or stop with a 400."""
    value = request.form.get(name, "").strip()
    if not value:
        abort(400, f"Field {name!r} is required.")
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        valid = valid and parts.port != 0 and len(value) <= 2000
    except ValueError:  # A port that is not a number, or out of range.
        valid = False
    if not valid:
        abort(400, f"Field {name!r} must be an http or https URL.")
    return value


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
