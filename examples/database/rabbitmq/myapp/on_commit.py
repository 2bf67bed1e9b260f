"""Send a message when the database transaction commits, and never before.

A message sent inside a transaction reaches a worker at once: before the
commit, the worker does not see the row yet; and if the transaction rolls
back, the row never exists. send_on_commit() keeps the message with the
session until its transaction commits, and drops it if it rolls back.
"""

from typing import Any

import dramatiq
from sqlalchemy import event
from sqlalchemy.orm import Session

from myapp.models import db

PENDING = "messages_to_send_on_commit"


def send_on_commit(actor: dramatiq.Actor, *args: Any, **kwargs: Any) -> None:
    """Send ``actor(*args, **kwargs)`` once the current transaction commits."""
    # A savepoint (session.begin_nested()) can roll back on its own, after
    # the message is queued here: queue messages outside savepoints.
    if db.session().in_nested_transaction():
        raise RuntimeError("send_on_commit() inside a savepoint")
    db.session.info.setdefault(PENDING, []).append((actor, args, kwargs))


# Every session: the app's, and each worker thread's.
@event.listens_for(Session, "after_commit")
def send_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # A savepoint was released: the transaction goes on.
    # Taken off the session first: a failing send must not send the others
    # again at the next commit. Its error raises out of commit(), after the
    # COMMIT: the caller decides, and closes the session before its next use.
    pending = session.info.pop(PENDING, [])
    for actor, args, kwargs in pending:
        actor.send(*args, **kwargs)


@event.listens_for(Session, "after_soft_rollback")
def drop_pending(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.nested:
        return  # A savepoint rolled back: the transaction, and its messages, go on.
    session.info.pop(PENDING, None)
