"""docs/metrics.rst: a real Prometheus scrapes the worker and the app.

Debian's prometheus runs with the page's command and the example's
prometheus.yml and alerts.yml (this run's ports, 1 s between scrapes). A
known workload goes through the app: three imports that work, one that
fails for good after three retries, one bad request. Prometheus must then
hold exactly those counts, the page's query must answer them, and the
dead-letter alert must fire; promtool must pass the example's files.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from support.dashboards import queries
from support.examples import Example, example_params, with_empty_queues
from support.feeds import feed_server
from support.metrics import (
    SHOWN_BROKER_METRICS_PORT,
    printed,
    prometheus,
    query,
    redis_exporter,
    running,
)
from support.output import check_shown_output
from support.processes import wait_for

QUEUE = "feeds"
pytestmark = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("prometheus-redis-exporter")),
    reason="needs Prometheus and its Redis exporter: "
    "apt install prometheus prometheus-redis-exporter (Debian, Ubuntu)",
)


@pytest.fixture(name="example", params=example_params("metrics"))
def fixture_example(request: pytest.FixtureRequest) -> Iterator[Example]:
    yield from with_empty_queues(Example(request.param), queues=(QUEUE,))


def post(url: str, feed: str) -> int:
    answer = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data", f"url={feed}", url],
        capture_output=True, text=True, timeout=10, check=True,
    )  # fmt: skip
    return int(answer.stdout)


def total(port: int, promql: str) -> float:
    """The one value of a query that sums to a single series (0 if none)."""
    values = list(query(port, promql).values())
    assert len(values) <= 1, values
    return values[0] if values else 0.0


def test_prometheus_holds_the_counts_of_a_known_workload(
    example: Example, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        feed_port = stack.enter_context(feed_server(200))
        run = stack.enter_context(running(example, tmp_path))
        exporter = None
        if example.broker.name == "redis":
            exporter = stack.enter_context(redis_exporter(example, tmp_path))
        port = stack.enter_context(prometheus(example, tmp_path, run, exporter))
        feeds = f"http://127.0.0.1:{run.ports['web']}/feeds"
        working = f"http://127.0.0.1:{feed_port}/feed.xml"
        statuses = [post(feeds, working) for _ in range(3)]
        statuses += [post(feeds, "http://127.0.0.1:9/feed.xml"), post(feeds, "ftp://x")]
        assert statuses == [202, 202, 202, 202, 400]
        expected = {
            # Attempts: three that worked, four of the failing import.
            'sum(dramatiq_messages_total{actor_name="import_feed"})': 7,
            "sum(dramatiq_message_errors_total)": 4,
            "sum(dramatiq_message_duration_milliseconds_count)": 7,
            # Each retry counts twice: as it goes to the delay queue,
            # and as it comes back; the page counts those of the first.
            'sum(dramatiq_message_retries_total{queue_name=~".+[.]DQ"})': 3,
            "sum(dramatiq_message_rejects_total)": 1,
            "sum(dramatiq_messages_inprogress)": 0,
            'sum(flask_http_requests_total{status="202"})': 4,
            'sum(flask_http_requests_total{status="400"})': 1,
            'sum(flask_http_request_duration_seconds_count{endpoint="enqueue_import"})': 5,
            'count(up{job=~"dramatiq|flask"} == 1)': 2,
        }
        if exporter:
            # The dead letter, as the Redis exporter counts it.
            expected['sum(redis_key_size{key="dramatiq:feeds.XQ"})'] = 1
            expected['count(up{job="redis"} == 1)'] = 1

        def seen() -> dict[str, float]:
            return {promql: total(port, promql) for promql in expected}

        try:
            wait_for(lambda: seen() == expected, timeout=30, what="the counts")
        except AssertionError:
            pytest.fail(f"Prometheus has {seen()}, expected {expected}")

        if exporter:
            [curl] = example.commands("broker-metrics")
            shown = f"127.0.0.1:{SHOWN_BROKER_METRICS_PORT['redis']}"
            check_shown_output(
                example.path / "broker-metrics.txt",
                printed(curl.replace(shown, f"127.0.0.1:{exporter}")),
                paths={f'db="db{example.broker.namespace}"': 'db="db0"'},
            )

        # The page's query, as shown, aimed at this Prometheus.
        [command] = example.commands("query")
        answer = subprocess.run(
            shlex.split(command.replace("127.0.0.1:9090", f"127.0.0.1:{port}")),
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        [series] = json.loads(answer.stdout)["data"]["result"]
        assert series["metric"] == {"actor_name": "import_feed"}
        assert series["value"][1] == "1"

        # Every query of the Grafana dashboard finds the series it draws.
        dashboard = json.loads((example.path / "dashboard.json").read_text())

        def empty() -> list[str]:
            return [
                expr
                for expr in queries(dashboard)
                if not query(port, expr.replace("$__rate_interval", "1m"))
            ]

        try:
            wait_for(lambda: not empty(), timeout=15, what="every dashboard query")
        except AssertionError:
            pytest.fail(f"Dashboard queries that found nothing: {empty()}")

        # alerts.yml's names and labels match what the worker exports.
        wait_for(
            lambda: query(port, 'ALERTS{alertstate="firing"}'),
            timeout=15,
            what="an alert to fire",
        )
        firing = {
            json.loads(labels)["alertname"]
            for labels in query(port, 'ALERTS{alertstate="firing"}')
        }
        assert firing == {"DeadLetters"}


def test_promtool_passes_the_settings_and_the_alert_rules(example: Example) -> None:
    for command in example.commands("promtool"):
        result = subprocess.run(
            shlex.split(command), cwd=example.path, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout + result.stderr
