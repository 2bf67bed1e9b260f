"""Count and time the app's requests, for Prometheus."""

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram

# Each gunicorn worker writes these into files of its own, and gunicorn's
# main process serves their sum (gunicorn.conf.py): this process registers
# them nowhere. The labels take few values, a series for each: a route, not
# a path with an id in it; a status code.
REQUESTS = Counter(
    "flask_http_requests_total",
    "HTTP requests the app answered.",
    ["endpoint", "status"],
    registry=None,
)
LATENCY = Histogram(
    "flask_http_request_duration_seconds",
    "Time the app took to answer an HTTP request.",
    ["endpoint"],
    registry=None,
)


def observe(app: Flask) -> None:
    """Count and time every request ``app`` answers, errors included."""

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        # "none": a path no route matches, such as a scanner's probe.
        endpoint = request.endpoint or "none"
        started = g.get("request_started", time.perf_counter())
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint, str(response.status_code)).inc()
        return response
