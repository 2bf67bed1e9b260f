"""The actors. They read the database through the app's session."""

import logging
from datetime import datetime, timezone

import dramatiq

from myapp.broker import broker
from myapp.models import User, db

logger = logging.getLogger(__name__)


@dramatiq.actor(broker=broker, queue_name="database", max_retries=3)
def welcome(user_id: int) -> None:
    # The id, not the User: the worker reads the row as it is now, in a
    # session of its own (the app context of myapp.middleware gives each
    # message one, and removes it afterwards, rolling back what is left).
    # FOR UPDATE: a second copy of the message waits for this one to commit
    # (5 s at most, lock_timeout; then it fails, and Dramatiq retries it).
    user = db.session.get(User, user_id, with_for_update=True)
    if user is None:
        # Sent with send_on_commit(), only a user deleted since is missing.
        logger.warning("User %d does not exist: nothing to do.", user_id)
        return
    if user.welcomed_at is not None:
        return  # A copy of the message ran first.
    # !r escapes line breaks and terminal escapes in the name.
    print(f"Welcome, {user.name!r}!")
    user.welcomed_at = datetime.now(timezone.utc)
    db.session.commit()
