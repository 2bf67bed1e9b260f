"""The views, in a blueprint that create_app() registers."""

from flask import Blueprint, abort, current_app, request, url_for
from sqlalchemy import delete
from werkzeug.exceptions import HTTPException

from myapp.broker import BROKER_ERRORS
from myapp.models import DATABASE_ERRORS, User, db
from myapp.on_commit import send_on_commit
from myapp.tasks import welcome

bp = Blueprint("users", __name__)


@bp.post("/users")
def create_user() -> tuple[dict[str, int], int, dict[str, str]]:
    name = request.form.get("name", "").strip()
    if not name:
        abort(400, "Field 'name' is required.")
    if len(name) > 64 or not name.isprintable():
        abort(400, "Field 'name' must be at most 64 printable characters.")
    user = User(name=name)
    try:
        db.session.add(user)
        db.session.flush()  # The INSERT, in the transaction: user.id is set.
    except DATABASE_ERRORS as error:
        current_app.logger.warning("Cannot save the user: %s", error)
        abort(503, "The database is unavailable. Try again later.")
    user_id = user.id
    send_on_commit(welcome, user_id)
    try:
        # The row first, then the message, once the row is there to read.
        db.session.commit()
    except DATABASE_ERRORS as error:
        current_app.logger.warning("Cannot save the user: %s", error)
        abort(503, "The database is unavailable. Try again later.")
    except BROKER_ERRORS as error:
        # Saved, but not queued: take the user back, so that the client's
        # next try makes one that is welcomed. commit() raised after its
        # COMMIT: the session takes no more SQL until it is closed.
        current_app.logger.warning("Cannot enqueue welcome(%d): %s", user_id, error)
        db.session.close()
        try:
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()
        except DATABASE_ERRORS as second:
            current_app.logger.error("User %d stays, unwelcomed: %s", user_id, second)
        abort(503, "The message broker is unavailable. Try again later.")
    location = url_for("users.show_user", user_id=user_id)
    return {"user_id": user_id}, 202, {"Location": location}


@bp.get("/users/<int:user_id>")
def show_user(user_id: int) -> dict[str, str | bool]:
    try:
        user = db.session.get(User, user_id)
    except DATABASE_ERRORS:
        abort(503, "The database is unavailable. Try again later.")
    if user is None:
        abort(404, f"No user {user_id}.")
    return {"name": user.name, "welcomed": user.welcomed_at is not None}


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
