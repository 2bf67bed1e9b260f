"""The Flask app: it queues divisions and reports the state of each task."""

import re
import uuid

from dramatiq import Message
from dramatiq.errors import ActorNotFound
from dramatiq.results import ResultFailure, ResultMissing
from flask import Flask, abort, request, url_for
from werkzeug.exceptions import HTTPException

from tasks import (
    CONNECTION_ERRORS,
    MAX_AGE_MS,
    RESULT_TTL_MS,
    TIME_LIMIT_MS,
    broker,
    divide,
    record_key,
    result_backend,
    results_redis,
)

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024

UNAVAILABLE = "The message broker is unavailable. Try again later."


@app.post("/divide")
def enqueue_divide() -> tuple[dict[str, str], int, dict[str, str]]:
    x = form_int("x")
    y = form_int("y")
    # y may be 0: the worker's ZeroDivisionError shows how failures look.
    message = divide.message(x, y)
    try:
        # Record the id before sending: if that fails, nothing is queued
        # and the client can safely post again.
        remember_task(message)
        broker.enqueue(message)
    except CONNECTION_ERRORS as error:
        app.logger.warning("Cannot enqueue %s: %s", message, error)
        abort(503, UNAVAILABLE)
    location = url_for("task_status", task_id=message.message_id)
    return {"message_id": message.message_id}, 202, {"Location": location}


@app.get("/tasks/<task_id>")
def task_status(task_id: str) -> dict[str, object]:
    try:
        message = find_task(task_id)
        # block=False: answer with the state now, never wait in a request.
        result = message.get_result(backend=result_backend, block=False)
    except ResultMissing:
        # A known task without a result: still queued, or running.
        return {"state": "pending", "result": None}
    except ResultFailure as failure:
        # The actor raised. Answer with the exception's type only: its message
        # can hold SQL, file paths or personal data. The worker logged it all.
        return {"state": "failed", "result": None, "error": failure.orig_exc_type}
    except CONNECTION_ERRORS as error:
        app.logger.warning("Cannot read task %s: %s", task_id, error)
        abort(503, UNAVAILABLE)
    return {"state": "done", "result": result}


def remember_task(message: Message) -> None:
    """Record a message id for as long as its task may wait, run and keep its result."""
    # The worker shortens the record to the result's lifetime when it stores
    # the result (TaskRecordBackend), so this is only the longest case.
    ttl = MAX_AGE_MS + TIME_LIMIT_MS + RESULT_TTL_MS
    results_redis.set(record_key(message.message_id), message.actor_name, px=ttl)


def find_task(task_id: str) -> Message:
    """Rebuild the message behind ``task_id``, or stop the request with a 404."""
    if not is_uuid(task_id):
        abort(404, f"No task with id {task_id!r}: task ids are UUIDs.")
    actor_name = results_redis.get(record_key(task_id))
    if actor_name is None:
        abort(404, f"No task with id {task_id!r}, or its result has expired.")
    try:
        actor = broker.get_actor(actor_name.decode())
    except ActorNotFound:
        # The actor was renamed or removed since the task was queued.
        abort(404, f"Task {task_id!r} ran an actor this app no longer has.")
    # The result's key holds the queue, actor and message id, not the
    # arguments: this message finds the result the worker stored.
    return Message(
        queue_name=actor.queue_name,
        actor_name=actor.actor_name,
        args=(),
        kwargs={},
        options={},
        message_id=task_id,
    )


def is_uuid(text: str) -> bool:
    """True for ids written the way Dramatiq writes them: str(uuid.uuid4())."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def form_int(name: str) -> int:
    """Return form field ``name`` as a 64-bit integer, or stop with a 400.

    ASCII digits with an optional sign only: int() also takes "١٢", "1_000"
    and numbers too long for the worker to print again.
    """
    value = request.form.get(name, "").strip()
    if not value:
        abort(400, f"Field {name!r} is required.")
    if re.fullmatch(r"[+-]?[0-9]{1,19}", value) and -(2**63) <= int(value) < 2**63:
        return int(value)
    abort(400, f"Field {name!r} must be a 64-bit integer, got {value[:20]!r}.")


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
