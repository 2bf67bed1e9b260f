"""The Idempotency-Key of every import the app accepted, with its file name.

The app's own record, as imports_db.py is the worker's: SQLite keeps the keys
in one file, shared by every gunicorn process and thread.
"""

import os
import sqlite3
from contextlib import closing

PATH = os.environ.get("IMPORT_KEYS_DB", "keys.sqlite3")


def connect() -> sqlite3.Connection:
    # A new connection per call: sqlite3 refuses to share one between threads.
    # timeout: wait up to 30 s while another process writes.
    db = sqlite3.connect(PATH, timeout=30)
    db.execute(
        "CREATE TABLE IF NOT EXISTS import_keys ("
        " key TEXT PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    return db


def claim(key: str, name: str) -> bool:
    """Tie ``key`` to the import of ``name``: False if it names another file."""
    with closing(connect()) as db:
        # The first request with a key records its file name; the primary key
        # makes the others keep it, even two requests at the same time.
        db.execute(
            "INSERT OR IGNORE INTO import_keys (key, name) VALUES (?, ?)", (key, name)
        )
        db.commit()
        query = "SELECT name FROM import_keys WHERE key = ?"
        (first_name,) = db.execute(query, (key,)).fetchone()
    return first_name == name
