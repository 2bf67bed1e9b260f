"""Which tests check one example topic: what `nox -s topic -- <topic>` runs.

No imports beyond the standard library: noxfile.py reads it in nox's own
environment.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS.parent / "examples"
# The modules that run every example, each test once per folder.
ACROSS_EXAMPLES = ("test_example_*.py", "test_stalled_broker.py")


@functools.cache
def own_modules(topic: str) -> frozenset[Path]:
    """The test modules of ``examples/<topic>`` alone: its own
    (test_<topic>.py, test_<topic>_<section>.py), and the section of a page
    about several examples (test_integrations_<topic>.py)."""
    patterns = (f"test_{topic}.py", f"test_{topic}_*.py", f"test_*_{topic}.py")
    return frozenset(path for pattern in patterns for path in TESTS.glob(pattern))


def topic_modules(topic: str) -> list[Path]:
    """The test modules that can hold tests of ``examples/<topic>``: its own,
    and the modules that run every example."""
    across = {path for pattern in ACROSS_EXAMPLES for path in TESTS.glob(pattern)}
    return sorted(own_modules(topic) | across)


def is_about(module: Path, params: dict[str, Any], topic: str) -> bool:
    """Whether a test checks ``examples/<topic>``: by its module, or by a
    parameter that is one of the topic's folders (or names the topic).

    pytest's ``-k <topic>`` matches any test whose name holds the topic's
    letters: ``-k ha`` picked 87 tests that have "ha" in their names.
    """
    if module.resolve() in own_modules(topic):
        return True
    for value in params.values():
        path = getattr(value, "path", value)  # An Example, or its folder.
        if value == topic or (
            isinstance(path, Path)
            and path.is_relative_to(EXAMPLES)
            and path.relative_to(EXAMPLES).parts[:1] == (topic,)
        ):
            return True
    return False
