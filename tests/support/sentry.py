"""A stand-in for Sentry's ingest endpoint, on 127.0.0.1, that keeps every event.

sentry-sdk posts each report as an envelope (newline-separated JSON: a
header, then each item's header and payload), gzip-compressed, to
``/api/<project>/envelope/``. The server answers 200 and keeps the events.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support.processes import free_port


class FakeSentry:
    """What the stand-in received; point SENTRY_DSN at ``dsn``. Use fake_sentry()."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.envelopes = 0
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.keep(self.path, body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass  # Keep the test's output for the test.

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.dsn = f"http://public@127.0.0.1:{self.server.server_port}/1"

    def keep(self, path: str, body: bytes) -> None:
        assert path == "/api/1/envelope/", path
        self.envelopes += 1
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                self.events.append(json.loads(payload))


@contextmanager
def fake_sentry() -> Iterator[FakeSentry]:
    """A FakeSentry, serving until the block ends."""
    sentry = FakeSentry()
    threading.Thread(target=sentry.server.serve_forever, daemon=True).start()
    try:
        yield sentry
    finally:
        sentry.server.shutdown()
        sentry.server.server_close()
