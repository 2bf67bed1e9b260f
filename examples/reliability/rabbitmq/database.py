"""The database that the app and the worker share: how to connect, and its tables.

Create the tables once, before you start the app and the worker:

    python database.py
"""

import os

import psycopg

# The password, if any, belongs in the environment, never in the code.
DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# What connect() and the queries raise when PostgreSQL is down, does not
# answer in time, or a lock or a query outlasts its timeout.
DATABASE_ERRORS: tuple[type[Exception], ...] = (psycopg.OperationalError,)


def connect() -> psycopg.Connection:
    """A new connection, for one task or one request: close it when done.

    Every wait is bounded, so a stuck database fails the request or the task
    instead of holding its thread: 5 s to connect, 5 s for a lock that another
    transaction holds, 10 s for any one statement.
    """
    return psycopg.connect(
        DATABASE_URL,
        connect_timeout=5,
        options="-c lock_timeout=5s -c statement_timeout=10s",
        # Each statement commits on its own; `with db.transaction():` groups
        # the ones that must commit together.
        autocommit=True,
    )


TABLES = """
CREATE TABLE IF NOT EXISTS done (
    import_id text PRIMARY KEY,
    done_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS imported_rows (
    import_id text NOT NULL REFERENCES done,
    line text NOT NULL
);
CREATE TABLE IF NOT EXISTS import_keys (
    key text PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
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
