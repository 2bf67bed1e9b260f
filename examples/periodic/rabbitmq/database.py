"""The database that the scheduler and the worker share: how to connect, and its tables.

Create the tables once, before you start the scheduler and the worker:

    python database.py
"""

import os

import psycopg

# The password, if any, belongs in the environment, never in the code.
DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def connect() -> psycopg.Connection:
    """A new connection, for one tick or one task: close it when done.

    Every wait is bounded: 5 s to connect, 10 s for a lock that another
    transaction holds, 60 s for any one statement. The scheduler's claims
    set tighter bounds of their own.
    """
    return psycopg.connect(
        DATABASE_URL,
        connect_timeout=5,
        options="-c lock_timeout=10s -c statement_timeout=60s",
        # Each statement commits on its own; `with db.transaction():` groups
        # the ones that must commit together.
        autocommit=True,
    )


TABLES = """
CREATE TABLE IF NOT EXISTS ticks (
    job text NOT NULL,
    tick timestamptz NOT NULL,
    sent_by text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, tick)
);
CREATE TABLE IF NOT EXISTS reports (
    tick timestamptz PRIMARY KEY,
    made_at timestamptz NOT NULL DEFAULT now()
);
"""


def create_tables() -> None:
    with connect() as db, db.transaction():
        # Two deploys that run this at once would race on the IF NOT EXISTS
        # checks, and one would fail: this lock makes the second one wait.
        db.execute("SELECT pg_advisory_xact_lock(hashtext('create_tables'))")
        db.execute(TABLES)


if __name__ == "__main__":
    create_tables()
    print("The tables are ready.")
