"""The Idempotency-Key of every import the app accepted, with its file name.

The app's own record, as imports_db.py is the worker's: a table in the
PostgreSQL database (database.py) that every gunicorn process on every host
shares.
"""

from database import connect


def claim(key: str, name: str) -> bool:
    """Tie ``key`` to the import of ``name``: False if it names another file."""
    with connect() as db:
        # The first request with a key records its file name. A second request
        # with the same key at the same time waits for the first's INSERT to
        # commit, then inserts nothing: the primary key keeps the first name.
        db.execute(
            "INSERT INTO import_keys (key, name) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            (key, name),
        )
        query = "SELECT name FROM import_keys WHERE key = %s"
        (first_name,) = db.execute(query, (key,)).fetchone()
    return first_name == name
