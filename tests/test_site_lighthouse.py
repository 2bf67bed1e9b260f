"""Every page of the built site through Lighthouse: accessibility and SEO ≥ 98.

Run by `nox -s audit` (CI runs it after `nox`), which installs Lighthouse from
tests/support/lighthouse/package.json. Lighthouse emulates a phone, so these
are the scores of the page a reader opens on one.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest

from support.browser import BrowserNotFound, find_browser
from support.examples import ROOT
from support.processes import Process, free_port, port_is_open, wait_for
from support.site_server import FLAGS, fixture_site  # noqa: F401  (the fixture "site")

pytestmark = [pytest.mark.browser, pytest.mark.audit]

LIGHTHOUSE = (
    ROOT / "tests" / "support" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
)
PAGES = sorted(path.stem for path in (ROOT / "docs").glob("*.rst"))
CATEGORIES = ("accessibility", "seo")
LEAST_SCORE = 0.98


@pytest.fixture(name="debugging_port", scope="module")
def fixture_debugging_port() -> Iterator[int]:
    """One headless Chromium for every page, which Lighthouse drives by its port.

    Lighthouse would otherwise start a browser of its own for each page.
    """
    try:
        executable = find_browser()
    except BrowserNotFound as error:
        pytest.fail(str(error), pytrace=False)
    port = free_port()
    with tempfile.TemporaryDirectory() as profile:
        command = [
            executable, "--headless=new", *FLAGS,
            f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
            "about:blank",
        ]  # fmt: skip
        browser = Process(
            shlex.join(command),
            cwd=Path(profile),
            env={},
            log=Path(profile) / "chromium.log",
        )
        try:
            wait_for(lambda: port_is_open(port), timeout=20, what="Chromium's port")
            yield port
        finally:
            browser.kill_group()


@pytest.mark.parametrize("page", PAGES)
def test_lighthouse_scores_accessibility_and_seo_at_least_98(
    site: tuple[str, Path], debugging_port: int, page: str
) -> None:
    assert LIGHTHOUSE.is_file(), "run `nox -s audit`, which installs Lighthouse"
    base, _ = site
    result = subprocess.run(
        [
            LIGHTHOUSE,
            urljoin(base, f"{page}.html"),
            f"--port={debugging_port}",
            "--quiet",
            "--output=json",
            f"--only-categories={','.join(CATEGORIES)}",
            # Stop waiting for the network to go quiet after 4 s: the site
            # has loaded long before, and the default waits up to 45 s.
            "--max-wait-for-load=4000",
            "--disable-full-page-screenshot",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout)
    scores = {name: report["categories"][name]["score"] for name in CATEGORIES}
    failed = [
        f"{audit['id']}: {audit['title']}"
        for audit in report["audits"].values()
        if audit.get("scoreDisplayMode") == "binary" and audit.get("score") == 0
    ]
    assert min(scores.values()) >= LEAST_SCORE, f"{scores}; failed: {failed}"
