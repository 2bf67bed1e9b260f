"""docs/email_once.rst, 'Run it'.

The page's commands, run as written: aiosmtpd's server, the Procfile's
worker and Flask, and the guide's request; the SMTP server prints the
e-mail the page shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.email import (
    fixture_example,  # noqa: F401  (the fixture "example")
    worker_env,
)
from support.examples import Example, run_against_flask
from support.output import check_shown_output
from support.processes import Process, free_port, port_is_open, wait_for


@pytest.mark.smoke
def test_welcome_email_reaches_the_local_smtp_server(
    example: Example, tmp_path: Path
) -> None:
    install, serve = example.commands("smtp-server")
    assert install == "python -m pip install aiosmtpd"  # The test venv has it.
    assert "127.0.0.1:8025" in serve, "the guide's server listens on the default"
    smtp_port = free_port()
    smtp = Process(
        serve.replace("127.0.0.1:8025", f"127.0.0.1:{smtp_port}"),
        cwd=example.path,
        # Its output goes to a file here, not a terminal: do not buffer it.
        env={"PYTHONUNBUFFERED": "1"},
        log=tmp_path / "smtp.log",
    )
    worker = example.start("worker", tmp_path, env=worker_env(smtp_port, tmp_path))
    web_port = free_port()
    web = example.start("web", tmp_path, env={"FLASK_RUN_PORT": str(web_port)})
    try:
        wait_for(lambda: port_is_open(smtp_port), timeout=15, what="aiosmtpd")
        wait_for(lambda: port_is_open(web_port), timeout=15, what="the Flask app")

        [curl] = example.commands("request")
        answer = run_against_flask(curl, web_port)
        email_id = json.loads(answer)["email_id"]

        smtp.wait_for_output("END MESSAGE", timeout=20)
        worker.wait_for_output(
            f"Sent e-mail {email_id} to ada@example.com.", timeout=10
        )
    finally:
        web.kill_group()
        worker.kill_group()
        smtp.kill_group()

    check_shown_output(
        example.path / "output.txt",
        smtp.output(),
        start="MESSAGE FOLLOWS",
        end="END MESSAGE",
    )
