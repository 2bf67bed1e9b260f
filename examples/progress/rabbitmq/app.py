"""The Flask app: it queues reports, and reports on their progress."""

import re
import uuid

from flask import Flask, abort, request, url_for
from werkzeug.exceptions import HTTPException

from tasks import (
    CONNECTION_ERRORS,
    ENDED,
    broker,
    make_report,
    now,
    progress_key,
    progress_redis,
    record,
)

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024

UNAVAILABLE = "The message broker is unavailable. Try again later."
# A running task records a page every fifth of a second: one that has
# recorded nothing for this long lost its worker, or its Redis.
STALLED_AFTER_S = 30
# Set the cancel flag only if the task exists and has not ended, in one step:
# a task that ends meanwhile is not "cancelling", and a hash that expired
# meanwhile is not made again without its fields.
CANCEL = progress_redis.register_script("""
local state = redis.call("HGET", KEYS[1], "state")
if state == false then return false end
if state == "done" or state == "failed" or state == "cancelled" then
    return state
end
redis.call("HSET", KEYS[1], "cancel", 1)
return "cancelling"
""")


# [docs:start]
@app.post("/reports")
def start_report() -> tuple[dict[str, str], int, dict[str, str]]:
    pages = form_pages("pages")
    message = make_report.message(pages)
    task_id = message.message_id
    try:
        # Record the task before it is sent: the worker may start at once.
        record(task_id, state="queued", done=0, of=pages)
        broker.enqueue(message)
    except CONNECTION_ERRORS as error:
        app.logger.warning("Cannot queue report %s: %s", task_id, error)
        abort(503, UNAVAILABLE)
    location = url_for("task_progress", task_id=task_id)
    return {"task_id": task_id}, 202, {"Location": location}


# [docs:start:end]


# [docs:status]
@app.get("/tasks/<task_id>")
def task_progress(task_id: str) -> dict[str, object]:
    progress = find_task(task_id)
    state = progress["state"]
    if state not in ENDED and "cancel" in progress:
        state = "cancelling"
    elif state == "running" and now() - int(progress["at"]) > STALLED_AFTER_S:
        state = "stalled"
    return {
        "state": state,
        "done": int(progress["done"]),
        "of": int(progress["of"]),
        "result": progress.get("result"),
    }


@app.post("/tasks/<task_id>/cancel")
def cancel_task(task_id: str) -> tuple[dict[str, str], int]:
    if not is_uuid(task_id):
        abort(404, f"No task with id {task_id!r}: task ids are UUIDs.")
    try:
        # The actor reads this flag before each page, and stops.
        state = CANCEL(keys=[progress_key(task_id)])
    except CONNECTION_ERRORS as error:
        app.logger.warning("Cannot cancel task %s: %s", task_id, error)
        abort(503, UNAVAILABLE)
    if state is None:
        abort(404, f"No task with id {task_id!r}, or it has expired.")
    if state != "cancelling":
        abort(409, f"Task {task_id!r} has ended: it is {state}.")
    return {"state": state}, 202


def find_task(task_id: str) -> dict[str, str]:
    """The progress of task ``task_id``, or stop the request with a 404 or 503."""
    if not is_uuid(task_id):
        abort(404, f"No task with id {task_id!r}: task ids are UUIDs.")
    try:
        progress = progress_redis.hgetall(progress_key(task_id))
    except CONNECTION_ERRORS as error:
        app.logger.warning("Cannot read task %s: %s", task_id, error)
        abort(503, UNAVAILABLE)
    if not progress:
        abort(404, f"No task with id {task_id!r}, or it has expired.")
    return progress


# [docs:status:end]


def form_pages(name: str) -> int:
    """Return form field ``name`` as a number of pages from 1 to 50, or stop with a 400."""
    value = request.form.get(name, "").strip()
    if not re.fullmatch(r"[0-9]{1,2}", value) or not 1 <= int(value) <= 50:
        abort(400, f"Field {name!r} must be a number of pages from 1 to 50.")
    return int(value)


def is_uuid(text: str) -> bool:
    """True for ids written the way Dramatiq writes them: str(uuid.uuid4())."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


@app.errorhandler(HTTPException)
def json_error(error: HTTPException) -> tuple[dict[str, str], int]:
    """Answer every HTTP error with one line of JSON instead of an HTML page."""
    return {"error": error.description}, error.code


@app.before_request
def refuse_large_body() -> None:
    """Answer 413 to a body over MAX_CONTENT_LENGTH, even where no view reads it.

    Flask checks the limit when a view reads the body: the cancel view reads none.
    """
    if (request.content_length or 0) > app.config["MAX_CONTENT_LENGTH"]:
        abort(413)


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
