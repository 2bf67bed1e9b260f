"""The ids of the imports already done, shared by every worker process and thread.

The same record as sent_log.py in the e-mail chapter, for imports: SQLite keeps
the ids in one file on the worker's disk, so the record survives a restart.
"""

import os
import sqlite3
from contextlib import closing

PATH = os.environ.get("IMPORTS_DONE_DB", "done.sqlite3")


def connect() -> sqlite3.Connection:
    # A new connection per call: sqlite3 refuses to share one between threads.
    # timeout: wait up to 30 s while another process writes.
    db = sqlite3.connect(PATH, timeout=30)
    db.execute(
        "CREATE TABLE IF NOT EXISTS done ("
        " import_id TEXT PRIMARY KEY,"
        " done_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    return db


def already_done(import_id: str) -> bool:
    with closing(connect()) as db:
        query = "SELECT 1 FROM done WHERE import_id = ?"
        return db.execute(query, (import_id,)).fetchone() is not None


def record_done(import_id: str) -> None:
    with closing(connect()) as db:
        # The primary key keeps one row per import, even if two copies of a
        # message finished at the same time.
        db.execute("INSERT OR IGNORE INTO done (import_id) VALUES (?)", (import_id,))
        db.commit()
