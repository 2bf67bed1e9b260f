"""Every example a reader copies is formatted and passes ruff (via pytest-examples)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_examples import CodeExample, EvalExample
from pytest_examples.lint import ruff_check

from support.examples import EXAMPLES, ROOT


class WholeFile(CodeExample):
    """A whole example file, not a fenced block inside Markdown or a docstring."""

    def in_py_file(self) -> bool:
        # True would make pytest-examples drop the two blank lines PEP 8 wants
        # between top-level definitions: it expects docstring snippets.
        return False


def example_file(path: Path) -> WholeFile:
    source = path.read_text()
    return WholeFile.create(source, path=path, end_line=source.count("\n"))


@pytest.mark.parametrize(
    "path",
    sorted(EXAMPLES.rglob("*.py")),
    ids=lambda path: str(path.relative_to(EXAMPLES)),
)
def test_example_is_formatted_and_lint_free(
    path: Path, eval_example: EvalExample
) -> None:
    eval_example.set_config(target_version="py310", isort=True, upgrade=True)
    example = example_file(path)
    eval_example.lint_black(example)
    # pytest-examples pipes the code to ruff without a file name; give it one,
    # so ruff applies pyproject.toml's per-folder settings (first-party imports).
    ruff_check(
        example,
        eval_example.config,
        extra_ruff_args=("--stdin-filename", str(path.relative_to(ROOT))),
    )
