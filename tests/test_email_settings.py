"""docs/email.rst, 'Read the settings from the environment'.

SMTP_STARTTLS, SMTP_USERNAME and SMTP_PASSWORD: the worker logs in to a
relay only over STARTTLS, a wrong password is a permanent failure, and a
username without STARTTLS stops the worker at start-up.
"""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.email import (
    ScriptedHandler,
    SMTPServer,
    fixture_example,  # noqa: F401  (the fixture "example")
    fixture_servers,  # noqa: F401  (the fixture "servers")
    post_welcome,
    smtp_server,
    wait_for_a_dead_letter,
    wait_for_last_word,
    wait_until_settled,
    worker_env,
)
from support.examples import Example

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A test authority's certificate, and a server certificate it signed for
    127.0.0.1 with that server's key: (authority, server, key)."""
    authority, authority_key = tmp_path / "ca.pem", tmp_path / "ca.key"
    server, key = tmp_path / "server.pem", tmp_path / "server.key"
    extensions = tmp_path / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    csr = tmp_path / "server.csr"
    # A new 2048-bit RSA key, unencrypted, written to the file that follows.
    new_key = ["-newkey", "rsa:2048", "-nodes", "-keyout"]
    authority_only = "basicConstraints=critical,CA:TRUE"
    signs = "keyUsage=critical,keyCertSign"
    for command in (
        ["req", "-x509", "-days", "1", "-subj", "/CN=Test-CA", "-addext"]
        + [
            authority_only,
            "-addext",
            signs,
            *new_key,
            authority_key,
            "-out",
            authority,
        ],
        ["req", "-new", "-subj", "/CN=127.0.0.1", *new_key, key, "-out", csr],
        ["x509", "-req", "-days", "1", "-in", csr, "-extfile", extensions]
        + [
            "-CA",
            authority,
            "-CAkey",
            authority_key,
            "-CAcreateserial",
            "-out",
            server,
        ],
    ):
        subprocess.run(["openssl", *map(str, command)], capture_output=True, check=True)
    return authority, server, key


class Logins:
    """An aiosmtpd authenticator that accepts one user and keeps every try."""

    def __init__(self, username: str, password: str) -> None:
        self.expected = (username.encode(), password.encode())
        self.tries: list[tuple[str, bytes, bool]] = []

    def __call__(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        assert isinstance(auth_data, LoginPassword)
        given = (auth_data.login, auth_data.password)
        self.tries.append((mechanism, auth_data.login, session.ssl is not None))
        # handled=False: aiosmtpd then sends the reply, 235 or 535.
        return AuthResult(success=given == self.expected, handled=False)


@pytest.mark.parametrize(
    ("password", "delivered"), [("s3cret", True), ("wrong", False)], ids=str
)
def test_relay_login_happens_over_starttls_and_a_wrong_password_is_permanent(
    example: Example,
    servers: list[SMTPServer],
    certificate: tuple[Path, Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    delivered: bool,
) -> None:
    authority, server_certificate, key = certificate
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(server_certificate, key)
    logins = Logins("mailer", "s3cret")
    # Like a real relay: no mail before STARTTLS, and no mail without a login.
    smtp = smtp_server(
        servers,
        ScriptedHandler(),
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        authenticator=logins,
    )
    env = worker_env(
        smtp.port,
        tmp_path,
        SMTP_STARTTLS="1",
        SMTP_USERNAME="mailer",
        SMTP_PASSWORD=password,
        # Python's default context trusts the test authority through this.
        SSL_CERT_FILE=str(authority),
    )
    worker = example.start("worker", tmp_path, env=env)
    try:
        email_id = post_welcome(example, monkeypatch)
        if delivered:
            worker.wait_for_output(f"Sent e-mail {email_id}", timeout=20)
            wait_until_settled(example, worker)
        else:
            wait_for_a_dead_letter(example, worker, timeout=20)
            wait_for_last_word(worker)
    finally:
        worker.kill_group()

    # The password only ever crossed the encrypted connection. smtplib tries
    # each mechanism the server offers until one works.
    assert logins.tries, "no login"
    assert {(login, tls) for _, login, tls in logins.tries} == {(b"mailer", True)}
    if delivered:
        assert len(logins.tries) == 1
    assert len(smtp.handler.delivered) == int(delivered)
    if not delivered:
        assert "535" in worker.output()
        assert "Retrying message" not in worker.output()


def test_a_username_without_starttls_stops_the_worker_at_start_up(
    example: Example, tmp_path: Path
) -> None:
    env = worker_env(1, tmp_path, SMTP_USERNAME="mailer", SMTP_PASSWORD="s3cret")
    worker = example.start("worker", tmp_path, env=env)
    try:
        exit_code = worker.popen.wait(timeout=30)
    finally:
        worker.kill_group()

    assert exit_code != 0
    assert "RuntimeError: SMTP_USERNAME is set: set SMTP_STARTTLS=1 as well." in (
        worker.output()
    )
