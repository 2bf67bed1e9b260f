"""gunicorn's settings: its main process serves the app's metrics.

gunicorn reads this file from the folder it starts in.
"""

import os
import shutil
import tempfile

# The folder where each gunicorn worker writes its metrics, new at each start:
# counts of an earlier run must not be added in. prometheus_client reads the
# variable when first imported, so set it before the workers import the app.
# (On a reload, gunicorn reads this file again and keeps the folder.)
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="app-metrics-")
METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]
# Not the app's port: /metrics stays off the address your proxy exposes.
METRICS_PORT = int(os.environ.get("APP_METRICS_PORT", "9200"))


def when_ready(server) -> None:
    """Serve the sum of every worker's metrics on 127.0.0.1:METRICS_PORT."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=METRICS_DIR)
    start_http_server(METRICS_PORT, addr="127.0.0.1", registry=registry)


def on_exit(server) -> None:
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
