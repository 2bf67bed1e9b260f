"""nox finds a browser the way readers' machines have one (tests/support/browser.py).

README: the browser tests drive the Chrome or Chromium named by CHROMIUM,
else the first on PATH, the macOS application, or Playwright's own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import browser
from support.browser import BrowserNotFound, find_browser


def executable(folder: Path, name: str) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def path_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH of its own, and no macOS application, for each test."""
    monkeypatch.setattr(browser, "MACOS_APPS", (str(tmp_path / "Apps" / "Chrome"),))
    return tmp_path / "bin"


def on_path(folder: Path):
    return lambda command: shutil.which(command, path=str(folder))


def no_playwright_browser() -> None:
    return None


def test_chromium_variable_wins_over_path(path_folder: Path, tmp_path: Path) -> None:
    executable(path_folder, "chromium")
    chosen = executable(tmp_path / "opt", "my-chrome")

    found = find_browser({"CHROMIUM": chosen}, on_path(path_folder))

    assert found == chosen


def test_chromium_variable_naming_no_file_is_an_error(path_folder: Path) -> None:
    executable(path_folder, "chromium")

    with pytest.raises(BrowserNotFound, match="CHROMIUM is /nowhere/chrome"):
        find_browser({"CHROMIUM": "/nowhere/chrome"}, on_path(path_folder))


@pytest.mark.parametrize(
    ("installed", "expected"),
    [
        (["google-chrome", "chromium-browser", "chromium"], "chromium"),
        (["google-chrome", "chromium-browser"], "chromium-browser"),
        (["google-chrome-stable", "google-chrome"], "google-chrome"),
        (["google-chrome-stable"], "google-chrome-stable"),
    ],
)
def test_path_commands_in_order(
    path_folder: Path, installed: list[str], expected: str
) -> None:
    for name in installed:
        executable(path_folder, name)

    found = find_browser({}, on_path(path_folder), no_playwright_browser)

    assert Path(found).name == expected


def test_macos_application_then_playwrights_browser(
    path_folder: Path, tmp_path: Path
) -> None:
    path_folder.mkdir()
    playwrights = executable(tmp_path / "ms-playwright", "chrome")

    assert find_browser({}, on_path(path_folder), lambda: playwrights) == playwrights
    app = executable(tmp_path / "Apps", "Chrome")
    assert find_browser({}, on_path(path_folder), lambda: playwrights) == app


def test_no_browser_says_how_to_install_one_in_one_line(path_folder: Path) -> None:
    path_folder.mkdir()

    with pytest.raises(BrowserNotFound) as error:
        find_browser({}, on_path(path_folder), no_playwright_browser)

    message = str(error.value)
    assert "\n" not in message
    assert "apt-get install chromium" in message
    assert "playwright install chromium" in message
    assert "CHROMIUM" in message
