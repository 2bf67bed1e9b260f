"""Find the Chrome or Chromium the browser tests drive, as a reader has one."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

# Looked up on PATH, in this order: Debian's and Arch's Chromium, Ubuntu's,
# then Google's Chrome (GitHub's runners have google-chrome).
COMMANDS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MACOS_APPS = (
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
NOT_FOUND = (
    "No Chromium or Chrome found (CHROMIUM, {commands} on PATH, the macOS "
    "applications, Playwright's browser): install one, e.g. "
    "`apt-get install chromium` or `python -m playwright install chromium`, "
    "or set CHROMIUM to its path."
)


class BrowserNotFound(LookupError):
    pass


def find_browser(
    environ: dict[str, str] | os._Environ[str] = os.environ,
    which: Callable[[str], str | None] = shutil.which,
    playwright_browser: Callable[[], str | None] | None = None,
) -> str:
    """The path of the browser to drive: CHROMIUM, then PATH, macOS, Playwright's.

    A CHROMIUM that names no file is a mistake to report, not to skip.
    """
    if chosen := environ.get("CHROMIUM"):
        if not Path(chosen).is_file():
            raise BrowserNotFound(f"CHROMIUM is {chosen}, which is not a file.")
        return chosen
    for command in COMMANDS:
        if found := which(command):
            return found
    for app in MACOS_APPS:
        if Path(app).is_file():
            return app
    if found := (playwright_browser or playwrights_own_browser)():
        return found
    raise BrowserNotFound(NOT_FOUND.format(commands=", ".join(COMMANDS)))


def playwrights_own_browser() -> str | None:
    """The Chromium `playwright install chromium` downloaded, if it did."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        path = p.chromium.executable_path
    return path if Path(path).is_file() else None
