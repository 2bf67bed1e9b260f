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

    Every wait is bounded. 5 s to connect and 10 s for any one statement.
    A scheduler that waits for another one's claim gives up after 8 s. And
    PostgreSQL ends a transaction left idle for 6 s, so a scheduler that
    freezes in the middle of a claim releases it: another one sends the tick.
    """
    return psycopg.connect(
        DATABASE_URL,
        connect_timeout=5,
        options=(
            "-c statement_timeout=10s -c lock_timeout=8s"
            " -c idle_in_transaction_session_timeout=6s"
        ),
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
