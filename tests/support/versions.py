"""The versions of what an example runs on: the install page's table.

``python -m support.versions <broker>`` (from tests/) prints them (`nox -s latest`
does, so a failing run says what it ran on); tests/test_install_versions.py
records them, with the broker server's, for the page.
"""

from __future__ import annotations

import sys
from importlib import metadata

# What each broker's examples run on, as the install page names them.
PACKAGES = {
    "rabbitmq": ("dramatiq", "pika", "flask", "gunicorn", "watchdog"),
    "redis": ("dramatiq", "redis", "flask", "gunicorn", "watchdog"),
}


def installed(broker: str) -> dict[str, str]:
    """The installed version of each of ``broker``'s PACKAGES."""
    return {name: metadata.version(name) for name in PACKAGES[broker]}


if __name__ == "__main__":
    [broker] = sys.argv[1:]
    for name, version in installed(broker).items():
        print(f"{name} {version}")
