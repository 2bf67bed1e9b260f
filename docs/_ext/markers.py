"""The ``# [docs:<name>]`` section markers of the files in examples/.

The one definition of their syntax. The docs (section_markers.py), the
tests and noxfile.py read markers through this module, so it uses only
Python's standard library: noxfile.py imports it before installing anything.
"""

from __future__ import annotations

import re
from pathlib import Path

# A marker comment on a line of its own, with the line's end.
MARKER = re.compile(r"^[ \t]*# \[docs:[\w-]+(?::end)?\][ \t]*\n?", re.MULTILINE)


def start_marker(name: str) -> str:
    """The comment that opens section ``name`` (a :start-after: value)."""
    return f"# [docs:{name}]"


def end_marker(name: str) -> str:
    """The comment that closes section ``name`` (an :end-before: value)."""
    return f"# [docs:{name}:end]"


def marked_lines(path: Path, name: str) -> list[str]:
    """The commands of section ``name`` of ``path``, one a line.

    Blank lines and comments are left out; a command continued over several
    lines with a trailing backslash (short lines read well on a phone) comes
    back as one line.
    """
    lines = path.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == start_marker(name)]
    ends = [i for i, line in enumerate(lines) if line.strip() == end_marker(name)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise LookupError(
            f"no single {start_marker(name)} ... {end_marker(name)} in {path}"
        )
    commands: list[str] = []
    continued = False
    for line in lines[starts[0] + 1 : ends[0]]:
        if not line.strip() or (line.lstrip().startswith("#") and not continued):
            continue
        text = line.rstrip()
        if continued:
            commands[-1] += " " + text.lstrip()
        else:
            commands.append(text)
        continued = commands[-1].endswith("\\")
        commands[-1] = commands[-1].removesuffix("\\").rstrip()
    return commands
