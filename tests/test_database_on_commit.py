"""docs/database.rst, 'Send after the commit': the two ways a message sent
inside a transaction goes wrong, and send_on_commit(), which prevents both.

On the test's broker and a PostgreSQL database of the test's own:

- A transaction that sends and then rolls back: .send() has queued a
  message for a user that never exists; send_on_commit() queues nothing.
- A transaction that sends before it commits: the running worker takes the
  message before the row is there, and drops it; with send_on_commit(),
  nothing is queued before the commit, and the worker welcomes the user.
- A savepoint inside the transaction neither sends the messages early nor
  drops them.
- The broker is down: the app answers 503 and keeps no user.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from support.databases import new_database, query
from support.examples import Example, example_params, with_empty_queues
from support.processes import free_port

QUEUE = "database"


@pytest.fixture(name="example", params=example_params("database"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


@pytest.fixture(name="database_url")
def fixture_database_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    try:
        with new_database() as url:
            monkeypatch.setenv("DATABASE_URL", url)
            yield url
    except RuntimeError as error:  # PostgreSQL is not reachable.
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(name="myapp")
def fixture_myapp(
    example: Example, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """The example's package, imported here (myapp.on_commit with it), with
    its app context pushed and its table created."""
    monkeypatch.setenv(example.broker.url_variable, example.broker.url)
    package = example.load("myapp", monkeypatch)
    app = package.create_app()
    with app.app_context():
        package.models.db.create_all()
        yield package


@pytest.mark.parametrize("send", ["send", "send_on_commit"])
def test_a_rolled_back_transaction_sends_nothing(
    example: Example, myapp: ModuleType, send: str
) -> None:
    User, db = myapp.models.User, myapp.models.db
    send_on_commit, welcome = myapp.on_commit.send_on_commit, myapp.tasks.welcome

    user = User(name="Ada")
    db.session.add(user)
    db.session.flush()
    if send == "send":
        welcome.send(user.id)
    else:
        send_on_commit(welcome, user.id)
    db.session.rollback()
    db.session.commit()  # A later commit must not send it either.

    queued = example.broker.pending(QUEUE)
    print(f"\n[{example.broker.name}] {send}, then a rollback: {queued} queued")
    assert queued == (1 if send == "send" else 0)


def test_a_savepoint_neither_sends_nor_drops_the_messages(
    example: Example, myapp: ModuleType
) -> None:
    User, db = myapp.models.User, myapp.models.db
    send_on_commit, welcome = myapp.on_commit.send_on_commit, myapp.tasks.welcome

    user = User(name="Ada")
    db.session.add(user)
    db.session.flush()
    send_on_commit(welcome, user.id)
    with db.session.begin_nested():
        db.session.add(User(name="Grace"))
    savepoint = db.session.begin_nested()
    with pytest.raises(RuntimeError):
        send_on_commit(welcome, user.id)
    savepoint.rollback()
    assert example.broker.pending(QUEUE) == 0
    db.session.commit()
    assert example.broker.pending(QUEUE) == 1


@pytest.mark.parametrize("send", ["send", "send_on_commit"])
def test_the_worker_sees_the_row_it_is_sent_for(
    example: Example, myapp: ModuleType, send: str, tmp_path: Path
) -> None:
    User, db = myapp.models.User, myapp.models.db
    send_on_commit, welcome = myapp.on_commit.send_on_commit, myapp.tasks.welcome

    worker = example.start("worker", tmp_path)
    try:
        worker.wait_for_output("is ready for action", timeout=30)
        user = User(name="Ada")
        db.session.add(user)
        db.session.flush()
        if send == "send":
            # The worker runs the message while the transaction is open.
            welcome.send(user.id)
            worker.wait_for_output(f"User {user.id} does not exist", timeout=10)
            db.session.commit()
            assert "Welcome" not in worker.output()
        else:
            send_on_commit(welcome, user.id)
            assert example.broker.pending(QUEUE) == 0
            db.session.commit()
            worker.wait_for_output("Welcome, 'Ada'!", timeout=10)
            assert "does not exist" not in worker.output()
    finally:
        worker.kill_group()


def test_without_the_broker_the_app_answers_503_and_keeps_no_user(
    example: Example, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheme = "amqp" if example.broker.name == "rabbitmq" else "redis"
    refused = f"{scheme}://127.0.0.1:{free_port()}"
    monkeypatch.setenv(example.broker.url_variable, refused)
    app = example.web_app(monkeypatch)
    with app.app_context():
        app.extensions["sqlalchemy"].create_all()
    answer = app.test_client().post("/users", data={"name": "Ada"})
    assert answer.status_code == 503
    assert answer.get_json() == {
        "error": "The message broker is unavailable. Try again later."
    }
    assert query(database_url, "SELECT count(*) FROM users") == [(0,)]
