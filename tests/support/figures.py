"""Write the figures the pages show (docs/_data/<page>.json) from real runs.

A test that measures what a page states calls record(); the page shows it
with ``:measured:`<page>.<key>``` (docs/_ext/measured.py). Only the runs
that exist to measure write: ``nox -s measure`` and ``nox -s reliability``
set GUIDE_RECORD_FIGURES=1. Elsewhere record() does nothing, so a plain
``nox`` leaves the data files as committed.
"""

from __future__ import annotations

import fcntl
import json
import os

from figure_data import DATA


def recording() -> bool:
    return os.environ.get("GUIDE_RECORD_FIGURES") == "1"


def record(page: str, key: str, value: float | str) -> None:
    """Store ``value`` at ``key`` (dotted: ``a.b``) in docs/_data/<page>.json.

    Round a float to the digits the page shows before recording it. Tests
    run in parallel processes: a lock file keeps their writes whole.
    """
    if recording():
        write_figure(page, key, value)


def write_figure(page: str, key: str, value: float | str) -> None:
    """Store ``value`` at ``key`` in docs/_data/<page>.json, recording or not.

    For a nox session that records what it ran once all of it passed.
    """
    DATA.mkdir(exist_ok=True)
    path = DATA / f"{page}.json"
    with open(DATA / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        figures = json.loads(path.read_text()) if path.is_file() else {}
        node = figures
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
