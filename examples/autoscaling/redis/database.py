"""The database that the web host and every worker host share.

Create its table once, from any of them, before you start the app and the
workers:

    python database.py
"""

import os

import psycopg

# The database host's private address. Keep the password out of the URL:
# psycopg reads it from the PGPASSWORD variable.
DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# What connect() and the queries raise when PostgreSQL is down, does not
# answer in time, or a query outlasts its timeout.
DATABASE_ERRORS: tuple[type[Exception], ...] = (psycopg.OperationalError,)


def connect() -> psycopg.Connection:
    """A new connection, for one task or one request: close it when done.

    A host that vanished never refuses a connection and never answers: bound
    every wait, or it lasts minutes. 5 s to connect; 10 s for any reply once
    connected (tcp_user_timeout); on the server, 5 s for a lock, 10 s for a
    statement, and 10 s for a client that opened a transaction and went
    silent, so that its locks do not outlive it.
    """
    return psycopg.connect(
        DATABASE_URL,
        connect_timeout=5,
        tcp_user_timeout=10_000,
        options=(
            "-c lock_timeout=5s -c statement_timeout=10s"
            " -c idle_in_transaction_session_timeout=10s"
        ),
        # Each statement commits on its own; `with db.transaction():` groups
        # the ones that must commit together.
        autocommit=True,
    )


TABLES = """
CREATE TABLE IF NOT EXISTS imports (
    import_id uuid PRIMARY KEY,
    url text NOT NULL,
    size integer NOT NULL,
    done_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
"""


def create_tables() -> None:
    with connect() as db, db.transaction():
        # Two hosts that run this at once would race on IF NOT EXISTS, and
        # one would fail: this lock makes the second one wait.
        db.execute("SELECT pg_advisory_xact_lock(hashtext('create_tables'))")
        db.execute(TABLES)


if __name__ == "__main__":
    create_tables()
    print("The tables are ready.")
