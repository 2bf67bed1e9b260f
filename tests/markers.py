"""Read the parts of example files that ``[docs:<name>]`` comments mark.

The docs include these parts with ``:start-after:``/``:end-before:``; the
tests and noxfile.py run what they contain.
"""

from __future__ import annotations

from pathlib import Path


def marked_lines(path: Path, marker: str) -> list[str]:
    """The non-comment lines between ``[docs:<marker>]`` and ``[docs:<marker>:end]``."""
    lines = path.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.endswith(f"[docs:{marker}]")]
    ends = [i for i, line in enumerate(lines) if line.endswith(f"[docs:{marker}:end]")]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise LookupError(
            f"no single [docs:{marker}] ... [docs:{marker}:end] in {path}"
        )
    return [
        line
        for line in lines[starts[0] + 1 : ends[0]]
        if line.strip() and not line.lstrip().startswith("#")
    ]
