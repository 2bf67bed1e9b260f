"""examples/security, and the security promises every example keeps."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import dramatiq.message
import pytest
from werkzeug.exceptions import RequestEntityTooLarge

from support.examples import (
    EXAMPLES,
    Example,
    example_params,
    run_against_flask,
    with_empty_queues,
)
from support.processes import free_port, port_is_open, wait_for

QUEUE = "security"
TEXT_FILES = [
    path
    for path in sorted(EXAMPLES.rglob("*"))
    if path.is_file() and "__pycache__" not in path.parts
]
PLACEHOLDER = re.compile(r"\$\{[^}]*\}|<[\w-]+>")  # ${VARIABLE} and <password>
URL_USERINFO = re.compile(r"\b[a-z+]+://([^/\s@\"']+)@", re.IGNORECASE)
SECRET_SETTING = re.compile(
    r"(password|passwd|_pass|secret_key|api_key)\w*\s*[:=][ \t]*(\S*)", re.IGNORECASE
)


def relative(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


@pytest.mark.parametrize("path", TEXT_FILES, ids=relative)
def test_no_example_uses_pickle(path: Path) -> None:
    # JSON is Dramatiq's default encoder. Pickle would let anyone who can
    # write to the broker run code in your workers.
    assert not re.search(r"\bpickle|PickleEncoder", path.read_text(errors="replace"))


@pytest.mark.parametrize("path", TEXT_FILES, ids=relative)
def test_no_example_holds_a_credential(path: Path) -> None:
    # Secrets come from the environment: files hold ${VARIABLES} or <holes>.
    text = PLACEHOLDER.sub("", path.read_text(errors="replace"))
    for userinfo in URL_USERINFO.findall(text):
        # A user name alone, as in postgresql://postgres@..., is no secret.
        password = userinfo.partition(":")[2]
        assert password == "", f"a password in a URL: {userinfo!r}"
    for name, value in SECRET_SETTING.findall(text):
        assert value in ("", "os.environ") or value.startswith("os.environ."), (
            f"{name} set to {value!r}"
        )


@pytest.mark.parametrize(
    "folder",
    sorted(path.parent for path in EXAMPLES.glob("*/*/Procfile")),
    ids=relative,
)
def test_every_worker_decodes_json(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Import what the Procfile's worker imports, and ask Dramatiq its encoder."""
    args = shlex.split(Example(folder).procfile_command("worker"))
    # `dramatiq tasks`, or Flask-Dramatiq's `flask --app app worker`.
    command = "dramatiq" if "dramatiq" in args else "--app"
    module = args[args.index(command) + 1]
    # In this process, from the encoder a new worker process starts with:
    # then whatever the example's modules set shows.
    monkeypatch.setattr(dramatiq.message, "global_encoder", dramatiq.JSONEncoder())
    Example(folder).load(module, monkeypatch)
    assert type(dramatiq.get_encoder()) is dramatiq.JSONEncoder


@pytest.fixture(params=example_params("security"))
def example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.mark.smoke
def test_worker_runs_valid_ids_and_dead_letters_forged_messages(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = example.load("tasks", monkeypatch)
    worker = example.start("worker", tmp_path)
    port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(port)})
    try:
        wait_for(lambda: port_is_open(port), timeout=15, what="the Flask app")
        [request] = example.commands("request")
        answer = run_against_flask(request, port)
        assert json.loads(answer)["message_id"]
        worker.wait_for_output("Exporting account 42.", timeout=20)
        # The worker prints before it acknowledges: until then, Redis still
        # counts the message as pending.
        wait_for(
            lambda: example.broker.pending(QUEUE) == 0,
            timeout=5,
            what="the worker to acknowledge account 42's message",
        )

        [too_large] = example.commands("too-large")
        answer = run_against_flask(too_large, port, shell=True)
        # curl exits 0 whatever the status: the answer must be the 413's.
        assert json.loads(answer) == {"error": RequestEntityTooLarge.description}
        assert example.broker.pending(QUEUE) == 0

        # What someone with write access to the broker could send: the
        # view never lets these through, so only the actor's check stops them.
        for forged in ("42; DROP TABLE accounts", True, -1):
            tasks.export_account.send(forged)
        wait_for(
            lambda: example.broker.dead(QUEUE) == 3,
            timeout=20,
            what="three forged messages in the dead-letter queue",
        )
        worker.wait_for_output("InvalidMessage", timeout=10)
        assert worker.output().count("Exporting account") == 1
        assert "Retrying" not in worker.output()
    finally:
        web.kill_group()
        worker.kill_group()
