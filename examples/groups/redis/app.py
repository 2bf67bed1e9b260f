"""The Flask app: it counts the words of several HTML documents at once, and
reports on the job."""

import json
import time
import uuid

from dramatiq import Actor, group, pipeline
from dramatiq.results import ResultFailure, ResultMissing
from flask import Flask, abort, request, url_for
from werkzeug.exceptions import HTTPException

from tasks import (
    CONNECTION_ERRORS,
    JOB_DEADLINE_MS,
    RESULT_TTL_MS,
    add_up,
    count_words,
    result_of,
    results_redis,
    strip_tags,
)

app = Flask(__name__)
# Refuse request bodies over 16 KiB with 413, before reading them.
app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
MAX_DOCUMENTS = 20

UNAVAILABLE = "The message broker is unavailable. Try again later."


# [docs:start]
@app.post("/jobs")
def start_job() -> tuple[dict[str, str], int, dict[str, str]]:
    documents = request.form.getlist("document")
    if not 1 <= len(documents) <= MAX_DOCUMENTS:
        abort(400, f"Send 1 to {MAX_DOCUMENTS} fields named 'document'.")
    # Two steps per document: count_words gets the text strip_tags returns.
    steps = [
        pipeline([strip_tags.message(document), count_words.message()])
        for document in documents
    ]
    # The documents' pipelines run side by side; add_up runs after the last.
    step_ids = [[step.message_id for step in each.messages] for each in steps]
    job = add_up.message([count_id for _, count_id in step_ids])
    job_group = group(steps)
    job_group.add_completion_callback(job)
    record = {"steps": step_ids, "deadline": time.time() + JOB_DEADLINE_MS / 1000}
    try:
        # Record the job before it runs: its status is known from the start.
        # Kept until its deadline, and then as long as its results.
        ttl = JOB_DEADLINE_MS + RESULT_TTL_MS
        results_redis.set(job_key(job.message_id), json.dumps(record), px=ttl)
        job_group.run()
    except CONNECTION_ERRORS as error:
        app.logger.warning("Cannot start job %s: %s", job.message_id, error)
        forget_job(job.message_id)
        abort(503, UNAVAILABLE)
    location = url_for("job_status", job_id=job.message_id)
    return {"job_id": job.message_id}, 202, {"Location": location}


# [docs:start:end]


# [docs:status]
@app.get("/jobs/<job_id>")
def job_status(job_id: str) -> dict[str, object]:
    try:
        record = find_job(job_id)
        steps = len(record["steps"])
        try:
            words = result_of(add_up, job_id)
            return {"state": "done", "counted": steps, "of": steps, "words": words}
        except ResultMissing:
            pass
        counted = 0
        for strip_id, count_id in record["steps"]:
            # is_stored() raises ResultFailure for a step that failed for good.
            is_stored(strip_tags, strip_id)
            counted += is_stored(count_words, count_id)
    except ResultFailure as failure:
        # Only the exception's type: its message can hold personal data.
        return {"state": "failed", "error": failure.orig_exc_type}
    except CONNECTION_ERRORS as error:
        app.logger.warning("Cannot read job %s: %s", job_id, error)
        abort(503, UNAVAILABLE)
    # Past its deadline, every step has ended: a result that is still
    # missing was lost (Redis failed as its step ended): it never finishes.
    state = "stalled" if time.time() > record["deadline"] else "pending"
    return {"state": state, "counted": counted, "of": steps, "words": None}


def is_stored(actor: Actor, message_id: str) -> bool:
    """True once the message's result is stored; raises ResultFailure if it failed."""
    try:
        result_of(actor, message_id)
    except ResultMissing:
        return False
    return True


def find_job(job_id: str) -> dict:
    """The job's record: its steps' ids and deadline. Or stop with a 404."""
    if not is_uuid(job_id):
        abort(404, f"No job with id {job_id!r}: job ids are UUIDs.")
    record = results_redis.get(job_key(job_id))
    if record is None:
        abort(404, f"No job with id {job_id!r}, or it has expired.")
    return json.loads(record)


def forget_job(job_id: str) -> None:
    """Delete the record of a job that could not start, if Redis answers."""
    try:
        results_redis.delete(job_key(job_id))
    except CONNECTION_ERRORS:
        pass


def job_key(job_id: str) -> str:
    """The Redis key of the app's record of a job."""
    return f"job:{job_id}"


# [docs:status:end]


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
def refuse_cut_off_body() -> None:
    """Answer 413 to a chunked request body that reaches MAX_CONTENT_LENGTH.

    Flask checks the limit against the Content-Length header. A chunked body
    has none: Werkzeug stops reading it at the limit and would parse the
    part it read as if it were the whole form.
    """
    limit = app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(request.get_data()) >= limit:
        abort(413)
