"""Every measured figure on a page comes from a file a run wrote (docs/_data).

A page shows a measurement with ``:measured:`<file>.<key>```; the tests
marked ``measure`` or ``figure``, the reliability suite and the benchmark
write those files. These tests check that every reference resolves, that
every stored figure is shown, and that the prose types no figure of its
own: a number with a unit of time, rate or count is a setting, a default or
arithmetic on them, and then it is listed in SETTINGS with the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from measured import DATA, lookup
from support.examples import ROOT

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.rst"))
ROLE = re.compile(r":measured:`([^`]+)`")
# A number followed by a unit a measurement has.
FIGURE = re.compile(
    r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?: to \d[\d,]*(?:\.\d+)?)?\s*"
    r"(?:ms|µs|milliseconds?|seconds?|minutes?|hours?|days?|s\b|times\b|"
    r"requests?(?: a second|/s)|imports?/s|%|copies|connections?)"
)


def prose(page: Path) -> list[tuple[int, str]]:
    """The page's own text, line by line: no directive bodies, literals or roles."""
    lines: list[tuple[int, str]] = []
    skip_indent: int | None = None
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not line.strip() or indent > skip_indent:
                continue
            skip_indent = None
        stripped = line.strip()
        # Code, includes, tables read from files, comments: not prose.
        if re.match(
            r"\.\. (literalinclude|code-block|csv-table|raw|image|figure)::", stripped
        ) or (stripped.startswith("..") and "::" not in stripped):
            skip_indent = indent
            continue
        text = re.sub(r"``.*?``", "", line)
        text = ROLE.sub("", text)
        text = re.sub(r":\w+:`[^`]*`", "", text)
        lines.append((number, text))
    return lines


def test_every_measured_reference_names_a_stored_figure() -> None:
    missing = []
    for page in PAGES:
        for reference in ROLE.findall(page.read_text()):
            try:
                lookup(reference)
            except (LookupError, TypeError) as error:
                missing.append(f"{page.name}: {error}")
    assert not missing


def stored(value: object, prefix: str) -> list[str]:
    if isinstance(value, dict):
        return [
            ref
            for key, item in value.items()
            for ref in stored(item, f"{prefix}.{key}")
        ]
    return [prefix]


def test_every_stored_figure_is_shown_on_a_page() -> None:
    shown = {ref for page in PAGES for ref in ROLE.findall(page.read_text())}
    unshown = [
        ref
        for path in sorted(DATA.glob("*.json"))
        for ref in stored(json.loads(path.read_text()), path.stem)
        if ref not in shown
    ]
    assert not unshown, "stored but on no page (remove its record() call?)"


# Figures typed in the prose on purpose: settings, defaults, a test's input,
# or arithmetic on them. Each entry: (page, the typed words, why).
SETTINGS: list[tuple[str, str, str]] = []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.stem)
def test_the_prose_types_no_measured_figure(page: Path) -> None:
    allowed = [words for name, words, _ in SETTINGS if name == page.stem]
    typed = []
    for number, text in prose(page):
        for match in FIGURE.finditer(text):
            if not any(match.group(0) in words and words in text for words in allowed):
                typed.append(
                    f"{page.name}:{number}: {match.group(0)!r} in {text.strip()!r}"
                )
    assert not typed, "\n".join(typed)
