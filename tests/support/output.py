"""Compare the output the guide shows with the output a real run prints."""

from __future__ import annotations

import re


def normalize_log(log: str) -> list[str]:
    """Blank out what changes between runs: times, ids, paths and the version."""
    log = re.sub(r"^\[[\d :,-]+\]", "[TIME]", log, flags=re.MULTILINE)
    log = re.sub(r"\[PID \d+\]", "[PID N]", log)
    log = re.sub(r"\[Thread-\d+\]", "[Thread-N]", log)
    log = re.sub(r"worker thread \d+", "worker thread N", log)
    log = re.sub(r"'[0-9a-f-]{36}'", "'MESSAGE-ID'", log)
    log = re.sub(r"in \d+ milliseconds", "in N milliseconds", log)
    log = re.sub(r"changes to '[^']*/", "changes to '.../", log)
    log = re.sub(r"Dramatiq '[^']+'", "Dramatiq 'VERSION'", log)
    return log.splitlines()


def assert_shown_in_order(shown: str, printed: str) -> None:
    """Every line the guide shows appears, in that order, in what was printed.

    A shown line "  ..." stands for lines left out (a traceback, say).
    """
    seen = iter(normalize_log(printed))
    wanted = [line for line in normalize_log(shown) if line != "  ..."]
    missing = [line for line in wanted if line not in seen]
    assert not missing, f"not in this order in the real output: {missing}"
