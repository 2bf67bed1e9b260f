"""Where the figures the pages show are stored: docs/_data/<page>.json.

The one definition of that place. The ``:measured:`` role (measured.py)
reads it; the tests (tests/support/figures.py) and the benchmark
(benchmark/settings.py) write it. Standard library only, so the benchmark's
virtualenv, which has no Sphinx, can import it.
"""

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "_data"
