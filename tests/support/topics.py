"""Which tests check one example topic: what `nox -s topic -- <topic>` runs.

No imports beyond the standard library: noxfile.py reads it in nox's own
environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS.parent / "examples"
# The modules that run every example, each test once per folder.
ACROSS_EXAMPLES = ("test_example_*.py", "test_stalled_broker.py")


def topic_modules(topic: str) -> list[Path]:
    """The test modules that can hold tests of ``examples/<topic>``.

    Its own (test_<topic>.py, test_<topic>_<section>.py), the section of a
    page about several examples (test_integrations_<topic>.py), and the
    modules that run every example.
    """
    patterns = (
        f"test_{topic}.py",
        f"test_{topic}_*.py",
        f"test_*_{topic}.py",
        *ACROSS_EXAMPLES,
    )
    return sorted({path for pattern in patterns for path in TESTS.glob(pattern)})


def is_about(module: Path, params: dict[str, Any], topic: str) -> bool:
    """Whether a test checks ``examples/<topic>``: by its module's name, or
    by a parameter that is one of the topic's folders (or names the topic).

    pytest's ``-k <topic>`` matches any test whose name holds the topic's
    letters: ``-k ha`` picked 87 tests that have "ha" in their names.
    """
    if module.name in {path.name for path in topic_modules(topic)} and not any(
        module.match(pattern) for pattern in ACROSS_EXAMPLES
    ):
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
