"""HTTP servers on 127.0.0.1 for the feed-import examples (error_reports, logs,
metrics, health).

feed_server(200) serves a small feed; feed_server(500) fails every request;
feed_server(200, delay=3) makes each import last 3 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support.processes import free_port

FEED = b"<rss></rss>"  # 11 bytes: the actor logs "Imported 11 bytes."


@contextmanager
def feed_server(status: int, delay: float = 0) -> Iterator[int]:
    """A server that answers every GET with ``status`` (and FEED if 200),
    ``delay`` seconds after the request; its port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            self.send_response(status)
            self.end_headers()
            if status == 200:
                self.wfile.write(FEED)

        def log_message(self, *args: object) -> None:
            pass  # Keep the test's output for the test.

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
