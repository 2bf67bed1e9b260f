"""The worker's queries: the rows an import wrote, and the ids of the imports done.

Both tables live in PostgreSQL (database.py), which every worker process and
thread on every host shares. An import writes its rows and its id in one
transaction, so every copy of its message sees either both or neither.
"""

from collections.abc import Iterable

import psycopg


def is_done(db: psycopg.Connection, import_id: str) -> bool:
    query = "SELECT 1 FROM done WHERE import_id = %s"
    return db.execute(query, (import_id,)).fetchone() is not None


def mark_done(db: psycopg.Connection, import_id: str) -> bool:
    """Add the done mark in db's transaction; False if the import has one.

    A copy running at the same time may have inserted the same id without
    committing yet: the primary key makes this INSERT wait for that
    transaction. If it commits, this writes nothing; if it rolls back, this
    inserts the id.
    """
    cursor = db.execute(
        "INSERT INTO done (import_id) VALUES (%s) ON CONFLICT DO NOTHING",
        (import_id,),
    )
    return cursor.rowcount == 1


def save_rows(db: psycopg.Connection, import_id: str, lines: Iterable[str]) -> int:
    """Store the lines as the import's rows in db's transaction; return how many."""
    rows = [(import_id, line.rstrip("\n")) for line in lines]
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO imported_rows (import_id, line) VALUES (%s, %s)", rows
        )
    return len(rows)
