"""The import's database: the rows it imported, and the ids of the imports done.

SQLite keeps both in one file on the worker's disk, shared by every worker
process and thread. An import writes its rows and its id in one transaction,
so every copy of its message sees either both or neither.
"""

import os
import sqlite3
from collections.abc import Iterable

PATH = os.environ.get("IMPORTS_DB", "imports.sqlite3")


def connect() -> sqlite3.Connection:
    # A new connection per task: sqlite3 refuses to share one between threads.
    # timeout: wait up to 30 s while another import holds the write lock.
    db = sqlite3.connect(PATH, timeout=30)
    db.execute(
        "CREATE TABLE IF NOT EXISTS done ("
        " import_id TEXT PRIMARY KEY,"
        " done_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS imported_rows ("
        " import_id TEXT NOT NULL,"
        " line TEXT NOT NULL)"
    )
    return db


def is_done(db: sqlite3.Connection, import_id: str) -> bool:
    query = "SELECT 1 FROM done WHERE import_id = ?"
    return db.execute(query, (import_id,)).fetchone() is not None


def mark_done(db: sqlite3.Connection, import_id: str) -> bool:
    """Add the done mark in db's transaction; False if the import has one.

    The INSERT takes SQLite's write lock until the transaction ends. A copy
    running at the same time holds that lock until it commits or rolls back,
    so this waits for it, then sees its outcome.
    """
    cursor = db.execute(
        "INSERT OR IGNORE INTO done (import_id) VALUES (?)", (import_id,)
    )
    return cursor.rowcount == 1


def save_rows(db: sqlite3.Connection, import_id: str, lines: Iterable[str]) -> int:
    """Store the lines as the import's rows in db's transaction; return how many."""
    cursor = db.executemany(
        "INSERT INTO imported_rows (import_id, line) VALUES (?, ?)",
        ((import_id, line.rstrip("\n")) for line in lines),
    )
    return cursor.rowcount
