"""The quickstart's app with Flask-Dramatiq: the extension builds the broker."""

import os
import re
from functools import partial

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from flask import Flask, abort, request
from flask_dramatiq import Dramatiq
from werkzeug.exceptions import HTTPException

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024

client = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # Bound every wait of .send() on a Redis that stops answering: 2 s to
    # connect and 2 s for each reply (redis-py's default: 5 s; a setting in
    # the URL wins over these).
    socket_connect_timeout=2,
    socket_timeout=2,
)
# Flask-Dramatiq calls DRAMATIQ_BROKER with url= and its middleware only. A
# URL in DRAMATIQ_BROKER_URL would build a client with no timeouts, so the
# partial hands the broker the client above instead.
app.config["DRAMATIQ_BROKER"] = partial(RedisBroker, client=client)
# Not `dramatiq`, as in Flask-Dramatiq's README: that hides the package.
jobs = Dramatiq(app)
# Name the extension's broker, so that `dramatiq app:broker` can start a
# worker with it, and make it Dramatiq's global broker in every process that
# imports this module: group(), pipeline() and get_broker() use that one.
broker = jobs.broker
dramatiq.set_broker(broker)

# What .send() raises when Redis cannot be reached, does not answer in time,
# or is full and refuses writes: redis-py's own errors, not Dramatiq's. And
# OSError when this process has no file descriptor left for a connection.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    OSError,
)


@jobs.actor
def add(x: int, y: int) -> None:
    print(f"The sum of {x} and {y} is {x + y}.")


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
