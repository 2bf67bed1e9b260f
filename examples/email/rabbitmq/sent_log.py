"""The ids of the e-mails already sent, shared by every worker process and thread.

SQLite keeps them in one file on the worker's disk, so the record survives a
restart, and its locks let processes and threads write at the same time.
"""

import os
import sqlite3
from contextlib import closing

PATH = os.environ.get("EMAIL_SENT_DB", "sent.sqlite3")


def connect() -> sqlite3.Connection:
    # A new connection per call: sqlite3 refuses to share one between threads.
    # timeout: wait up to 30 s while another process writes.
    db = sqlite3.connect(PATH, timeout=30)
    db.execute(
        "CREATE TABLE IF NOT EXISTS sent ("
        " email_id TEXT PRIMARY KEY,"
        " sent_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    return db


def already_sent(email_id: str) -> bool:
    with closing(connect()) as db:
        query = "SELECT 1 FROM sent WHERE email_id = ?"
        return db.execute(query, (email_id,)).fetchone() is not None


def record_sent(email_id: str) -> None:
    with closing(connect()) as db:
        # The primary key keeps one row per e-mail, even if two copies of a
        # message were sent at the same time.
        db.execute("INSERT OR IGNORE INTO sent (email_id) VALUES (?)", (email_id,))
        db.commit()
