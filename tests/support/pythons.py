"""Find the other Pythons installed here, for tests that need one in particular."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# The Pythons the project supports, oldest first: `nox -s pythons` runs the
# examples on each one installed, and the install page shows them.
SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def find_python(version: str) -> str | None:
    """A working ``python<version>``: on PATH, or one of pyenv's, or None.

    A pyenv shim is on PATH even when that version is not the active one, and
    then it fails: each candidate is run once before it is taken.
    """
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [
        shutil.which(f"python{version}"),
        *sorted(map(str, pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))),
    ]
    for candidate in filter(None, candidates):
        works = subprocess.run(
            [candidate, "-c", "import venv"], capture_output=True, check=False
        )
        if works.returncode == 0:
            return candidate
    return None
