"""The views, in a blueprint that create_app() registers."""

from flask import Blueprint, abort, current_app, request
from werkzeug.exceptions import HTTPException

from myapp.broker import BROKER_ERRORS
from myapp.tasks import welcome

bp = Blueprint("welcome", __name__)


@bp.post("/welcome")
def enqueue_welcome() -> tuple[dict[str, str], int]:
    username = request.form.get("username", "").strip()
    if not username:
        abort(400, "Field 'username' is required.")
    # No line breaks or terminal escapes: the name ends up in log lines.
    if len(username) > 64 or not username.isprintable():
        abort(400, "Field 'username' must be at most 64 printable characters.")
    try:
        message = welcome.send(username)
    except BROKER_ERRORS as error:
        current_app.logger.warning("Cannot enqueue welcome(%r): %s", username, error)
        abort(503, "The message broker is unavailable. Try again later.")
    # 202 Accepted: the work is queued, not done.
    return {"message_id": message.message_id}, 202


@bp.app_errorhandler(HTTPException)
def json_error(error: HTTPException) -> tuple[dict[str, str], int]:
    """Answer every HTTP error of the app with one line of JSON."""
    return {"error": error.description}, error.code


@bp.before_app_request
def refuse_cut_off_body() -> None:
    """Answer 413 to a chunked request body that reaches MAX_CONTENT_LENGTH.

    Flask checks the limit against the Content-Length header. A chunked body
    has none: Werkzeug stops reading it at the limit and would parse the
    part it read as if it were the whole form.
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(request.get_data()) >= limit:
        abort(413)
