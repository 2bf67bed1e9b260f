"""gunicorn's settings: its main process serves the app's metrics.

gunicorn reads this file from the folder it starts in.
"""

import os
import shutil
import tempfile

# The folder where each gunicorn worker writes its metrics: yours, if you set
# PROMETHEUS_MULTIPROC_DIR (empty it before each start), or a new one that
# gunicorn removes when it stops, so that no earlier run's counts are added
# in. prometheus_client reads the variable when first imported: set it before
# the workers import the app. (On a reload, gunicorn reads this file again
# and keeps the folder.)
MADE_HERE = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if MADE_HERE:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="app-metrics-")
METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]
os.makedirs(METRICS_DIR, exist_ok=True)
# Not the app's port: /metrics stays off the address your proxy exposes.
METRICS_PORT = int(os.environ.get("APP_METRICS_PORT", "9200"))


def when_ready(server) -> None:
    """Serve the sum of every worker's metrics on 127.0.0.1:METRICS_PORT."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=METRICS_DIR)
    try:
        start_http_server(METRICS_PORT, addr="127.0.0.1", registry=registry)
    except OSError as error:  # The port is taken: serve the app all the same.
        server.log.error("No metrics server on port %d: %s", METRICS_PORT, error)


def on_exit(server) -> None:
    if MADE_HERE:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
