"""The output a page shows, checked against a real run, and regenerated from one.

Each shown output file (``output.txt``, ``reload.txt``, ...) is what a real
run printed, cut to the lines the page is about. ``nox -s regen`` rewrites
every file from the run its test makes (GUIDE_REGENERATE=1); the tests
check that the real run, through one normalization table, equals the file.
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

# What changes from run to run, and what stands in for it when comparing.
VARYING = [
    (re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]"), "[TIME]"),
    (re.compile(r"\[PID \d+\]"), "[PID N]"),
    (re.compile(r"Worker with PID \d+"), "Worker with PID N"),
    (re.compile(r"\[Thread-\d+\]"), "[Thread-N]"),
    (re.compile(r"worker thread \d+"), "worker thread N"),
    (re.compile(r"'[0-9a-f-]{36}'"), "'MESSAGE-ID'"),
    (re.compile(r"in \d+ milliseconds"), "in N milliseconds"),
    (re.compile(r"Dramatiq '[^']+'"), "Dramatiq 'VERSION'"),
    (re.compile(r"\.py:\d+ "), ".py:N "),  # a line of Dramatiq's own source
    (re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"), "ID"),
    # HTTP and e-mail headers.
    (re.compile(r"^Date: .*"), "Date: DATE"),
    (re.compile(r"^Server: .*"), "Server: SERVER"),
    (re.compile(r"<[0-9a-f]{32}@"), "<ID@"),
    (re.compile(r"^X-Peer: .*"), "X-Peer: PEER"),
]
# Lines a page leaves out: each worker process's own start and stop.
HIDDEN = (
    "] Worker process is ready for action.",
    "] Stopping worker process...",
    "] Shutting down...",
    "] Killing worker process...",
)
# Lines a page shows once: a file watcher may see one edit as several.
ONCE = ("] Detected changes to ", "] Sending signal 'SIGHUP' to subprocesses...")
PID = re.compile(r"\[PID (\d+)\]")
TIMESTAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S,%f"
# Shown files start at this time, and number their PIDs from 4100, so that
# a page's prose can name them ("kill -TERM 4100").
SHOWN_START = datetime.datetime(2026, 11, 27, 9, 0, 0)
FIRST_SHOWN_PID = 4100


def regenerating() -> bool:
    return os.environ.get("GUIDE_REGENERATE") == "1"


def normalize(text: str) -> list[str]:
    """The lines of ``text`` with what varies between runs blanked out."""
    lines = []
    for line in text.splitlines():
        for pattern, replacement in VARYING:
            line = pattern.sub(replacement, line)
        lines.append(line.rstrip())
    return lines


# A log record that starts inside another process's line: a print() writes
# its text and its newline apart, and a log record can land between them.
GLUED = re.compile(r"(?<=\S)(?=\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] )")


def unglue(lines: list[str]) -> list[str]:
    """Put glued log records on lines of their own, and drop the newlines
    they left behind."""
    out: list[str] = []
    orphans = 0
    for line in lines:
        if orphans and not line:
            orphans -= 1
            continue
        parts = GLUED.split(line)
        orphans += len(parts) - 1
        out.extend(parts)
    return out


def excerpt(
    printed: str,
    start: str | None = None,
    end: str | None = None,
    hide: tuple[str, ...] = (),
) -> list[str]:
    """The lines a page shows of ``printed``.

    From the first line that contains ``start`` to the next that contains
    ``end``; without HIDDEN lines or those that contain one of ``hide``;
    ONCE lines once; each traceback's frames folded into "  ...".
    """
    lines = unglue(printed.splitlines())
    if start is not None:
        lines = lines[next(i for i, line in enumerate(lines) if start in line) :]
    if end is not None:
        lines = lines[: next(i for i, line in enumerate(lines) if end in line) + 1]
    shown: list[str] = []
    seen_once: set[str] = set()
    in_traceback = False
    for line in lines:
        if any(text in line for text in HIDDEN + hide):
            continue
        if once := next((text for text in ONCE if text in line), None):
            if once in seen_once:
                continue
            seen_once.add(once)
        if in_traceback and line.startswith("  "):
            if shown[-1] != "  ...":
                shown.append("  ...")
            continue
        in_traceback = line == "Traceback (most recent call last):" or (
            in_traceback and line.startswith("  ")
        )
        shown.append(line)
    return shown


def streams(lines: list[str]) -> list[list[str]]:
    """The normalized lines of each process, and those of no process."""
    by_process: dict[str | None, list[str]] = {}
    for line in lines:
        pid = PID.search(line)
        by_process.setdefault(pid and pid.group(1), []).extend(normalize(line))
    return list(by_process.values())


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    remaining = iter(whole)
    return all(line in remaining for line in part)


def same_output(run: list[str], shown: list[str]) -> bool:
    """The shown lines are this run's lines, each process's in its order.

    Processes log at once, so their lines interleave differently from run
    to run, and a retry may run in either worker process: what stays is
    the set of lines and, within each process, and among the lines of no
    process (a task's print(), a traceback), their order.
    """
    normalized = normalize("\n".join(shown))
    if sorted(normalize("\n".join(run))) != sorted(normalized):
        return False
    return all(is_subsequence(stream, normalized) for stream in streams(run))


def stable(lines: list[str]) -> str:
    """The excerpt as a page shows it: PIDs from 4100 in order of appearance,
    times moved to start at SHOWN_START (their gaps as they were)."""
    pids: dict[str, str] = {}
    first: datetime.datetime | None = None
    out = []
    for line in lines:
        if match := TIMESTAMP.match(line):
            when = datetime.datetime.strptime(match.group(1), TIME_FORMAT)
            first = first or when
            moved = (SHOWN_START + (when - first)).strftime(TIME_FORMAT)[:-3]
            line = f"[{moved}]" + line[match.end() :]
        line = re.sub(
            r"(\[PID |Worker with PID )(\d+)",
            lambda m: (
                m.group(1)
                + pids.setdefault(m.group(2), str(FIRST_SHOWN_PID + len(pids)))
            ),
            line,
        )
        out.append(line)
    return "\n".join(out) + "\n"


def check_shown_output(
    shown_file: Path,
    printed: str,
    *,
    start: str | None = None,
    end: str | None = None,
    paths: dict[str, str] | None = None,
    hide: tuple[str, ...] = (),
) -> None:
    """The file a page shows equals what this run printed, normalized.

    ``paths`` replaces a test's temporary paths with the ones a page shows.
    Under ``nox -s regen``, rewrites the file from this run instead.
    """
    for real, shown_path in (paths or {}).items():
        printed = printed.replace(real, shown_path)
    lines = excerpt(printed, start, end, hide)
    if regenerating():
        shown_file.write_text(stable(lines))
        return
    if not same_output(lines, shown_file.read_text().splitlines()):
        run = "\n".join(normalize("\n".join(lines)))
        raise AssertionError(
            f"{shown_file} differs from this run's output (normalized); "
            f"nox -s regen rewrites it. This run:\n{run}"
        )
