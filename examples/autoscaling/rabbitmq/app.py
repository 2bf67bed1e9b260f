"""The Flask app: it queues imports, and says which ones are done."""

import uuid
from urllib.parse import urlsplit

from flask import Flask, abort, request
from werkzeug.exceptions import HTTPException

from database import DATABASE_ERRORS, connect
from tasks import BROKER_ERRORS, import_feed

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024


@app.post("/imports")
def enqueue_import() -> tuple[dict[str, str], int, dict[str, str]]:
    url = form_url("url")
    import_id = str(uuid.uuid4())
    try:
        import_feed.send(import_id, url)
    except BROKER_ERRORS as error:
        app.logger.warning("Cannot queue import_feed: %s", error)
        abort(503, "The message broker is unavailable. Try again later.")
    # 202 Accepted: the import is queued, not done. Location: where to ask.
    return {"import_id": import_id}, 202, {"Location": f"/imports/{import_id}"}


@app.get("/imports/<import_id>")
def import_status(import_id: str) -> dict[str, object]:
    if not is_uuid(import_id):
        abort(400, "An import id is a UUID, such as the one POST /imports gave.")
    try:
        with connect() as db:
            row = db.execute(
                "SELECT size FROM imports WHERE import_id = %s", (import_id,)
            ).fetchone()
    except DATABASE_ERRORS as error:
        app.logger.warning("Cannot read import %s: %s", import_id, error)
        abort(503, "The database is unavailable. Try again later.")
    if row is None:
        abort(404, f"Import {import_id} is not done, or does not exist.")
    return {"state": "done", "size": row[0]}


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


def is_uuid(text: str) -> bool:
    """Whether ``text`` is a UUID in its usual form, as str(uuid4()) writes it."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


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
