"""The Flask app: it checks the input, enqueues a message and answers at once."""

from flask import Flask, abort, request
from werkzeug.exceptions import HTTPException

from tasks import BROKER_ERRORS, add

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024


@app.post("/add")
def enqueue_add() -> tuple[dict[str, str], int]:
    # Convert in the view: form values are strings, and "1" + "2" is "12".
    x = form_int("x")
    y = form_int("y")
    try:
        message = add.send(x, y)
    except BROKER_ERRORS as error:
        app.logger.warning("Cannot enqueue add(%d, %d): %s", x, y, error)
        abort(503, "The message broker is unavailable. Try again later.")
    # 202 Accepted: the work is queued, not done.
    return {"message_id": message.message_id}, 202


def form_int(name: str) -> int:
    """Return form field ``name`` as an int, or stop the request with a 400."""
    value = request.form.get(name, "").strip()
    if not value:
        abort(400, f"Field {name!r} is required.")
    try:
        return int(value)
    except ValueError:
        abort(400, f"Field {name!r} must be an integer, got {value!r}.")


@app.errorhandler(HTTPException)
def json_error(error: HTTPException) -> tuple[dict[str, str], int]:
    """Answer every HTTP error with one line of JSON instead of an HTML page."""
    return {"error": error.description}, error.code
