"""The Flask app: it checks the input, enqueues a report and answers at once."""

from flask import Flask, abort, request
from werkzeug.exceptions import HTTPException

from tasks import BROKER_ERRORS, build_report

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024

# The longest report the app accepts, in seconds: shorter than the 25 s that
# worker-slow waits for its tasks when it stops (see the Procfile).
MAX_SECONDS = 20


@app.post("/reports")
def enqueue_report() -> tuple[dict[str, str], int]:
    seconds = form_seconds("seconds")
    try:
        message = build_report.send(seconds)
    except BROKER_ERRORS as error:
        app.logger.warning("Cannot enqueue build_report(%s): %s", seconds, error)
        abort(503, "The message broker is unavailable. Try again later.")
    # 202 Accepted: the work is queued, not done.
    return {"message_id": message.message_id}, 202


def form_seconds(name: str) -> float:
    """Return form field ``name`` as seconds in (0, MAX_SECONDS], or answer 400."""
    value = request.form.get(name, "").strip()
    if not value:
        abort(400, f"Field {name!r} is required.")
    try:
        seconds = float(value)
    except ValueError:
        abort(400, f"Field {name!r} must be a number, got {value[:20]!r}.")
    # "nan" and "inf" convert too; NaN fails every comparison, so both end here.
    if not 0 < seconds <= MAX_SECONDS:
        abort(400, f"Field {name!r} must be more than 0 and at most {MAX_SECONDS}.")
    return seconds


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
