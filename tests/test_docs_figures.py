"""Every measured figure on a page comes from a file a run wrote (docs/_data).

A page shows a measurement with ``:measured:`<file>.<key>```; the tests
marked ``measure`` or ``figure``, the reliability suite and the benchmark
write those files. These tests check that every reference resolves, that
every stored figure is shown, and that the prose types no figure of its
own: a number with a unit of time, rate or count is a setting, a default or
arithmetic on them, and then it is listed in SETTINGS with the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from figure_data import DATA
from measured import lookup
from support.examples import ROOT

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.rst"))
ROLE = re.compile(r":measured:`([^`]+)`")
# A number followed by a unit a measurement has.
FIGURE = re.compile(
    r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?: to \d[\d,]*(?:\.\d+)?)?\s*"
    r"(?:ms|µs|milliseconds?|seconds?|minutes?|hours?|days?|s\b|times\b|"
    r"requests?(?: a second|/s)|imports?/s|%|copies|connections?)"
)


def prose(page: Path) -> list[tuple[int, str]]:
    """The page's own text, line by line: no directive bodies, literals or roles."""
    lines: list[tuple[int, str]] = []
    skip_indent: int | None = None
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not line.strip() or indent > skip_indent:
                continue
            skip_indent = None
        stripped = line.strip()
        # Code, includes, tables read from files, comments: not prose.
        if re.match(
            r"\.\. (literalinclude|code-block|csv-table|raw|image|figure)::", stripped
        ) or (stripped.startswith("..") and "::" not in stripped):
            skip_indent = indent
            continue
        text = re.sub(r"``.*?``", "", line)
        text = ROLE.sub("", text)
        text = re.sub(r":\w+:`[^`]*`", "", text)
        lines.append((number, text))
    return lines


def test_every_measured_reference_names_a_stored_figure() -> None:
    missing = []
    for page in PAGES:
        for reference in ROLE.findall(page.read_text()):
            try:
                lookup(reference)
            except (LookupError, TypeError) as error:
                missing.append(f"{page.name}: {error}")
    assert not missing


def stored(value: object, prefix: str) -> list[str]:
    if isinstance(value, dict):
        return [
            ref
            for key, item in value.items()
            for ref in stored(item, f"{prefix}.{key}")
        ]
    return [prefix]


def test_every_stored_figure_is_shown_on_a_page() -> None:
    shown = {ref for page in PAGES for ref in ROLE.findall(page.read_text())}
    unshown = [
        ref
        for path in sorted(DATA.glob("*.json"))
        for ref in stored(json.loads(path.read_text()), path.stem)
        if ref not in shown
    ]
    assert not unshown, "stored but on no page (remove its record() call?)"


# Figures typed in the prose on purpose: settings, defaults, a test's input,
# or arithmetic on them. Page -> {the figure as typed: why it is no measurement}.
POLL_CAP = "dramatiq_worker_timeout=40, the Procfiles' setting"
RETRIES = "Dramatiq's default retries and backoff (min 15 s, max 7 days)"
CONSUMER_TIMEOUT = "RabbitMQ's default consumer_timeout"
SHUTDOWN = "Dramatiq's --worker-shutdown-timeout default and platforms' grace periods"
SETTINGS: dict[str, dict[str, str]] = {
    "groups": {
        "2 seconds": "the result store's socket_timeout in tasks.py",
        "31 minutes": "MAX_AGE_MS + TIME_LIMIT_MS in tasks.py",
    },
    "progress": {
        "250 milliseconds": "the page's setTimeout in static/index.html",
        "30 seconds": "STALLED_AFTER_S in app.py",
    },
    "rate_limits": {
        "2 seconds": "the window of GEOCODE_LIMIT in tasks.py",
    },
    "database": {
        "10 seconds": "the engine's tcp_user_timeout, statement_timeout and idle_in_transaction_session_timeout",
        "5 seconds": "the engine's connect_timeout and lock_timeout",
    },
    "autoscaling": {
        "20 seconds": "the actor's time_limit in tasks.py",
        "10 minutes": "Dramatiq's default time limit",
        "30 seconds": "terminationGracePeriodSeconds in worker.yaml; KEDA's pollingInterval default",
        "5 seconds": "RabbitMQ's collect_statistics_interval default",
        "5 minutes": "KEDA's cooldownPeriod default; the HPA's scale-down stabilization window",
        "25 seconds": "--worker-shutdown-timeout in worker.yaml",
        "15 seconds": "the HorizontalPodAutoscaler's default sync period",
    },
    "ha": {
        "5 seconds": "sentinel.conf's down-after-milliseconds",
        "2 seconds": "the examples' broker timeouts (pika's stack_timeout)",
        "2-second": "the examples' broker timeouts (PublishTimeout)",
        "30 %": "where tests/test_ha_failover.py crashes the node",
    },
    "hosts": {
        "5 seconds": "database.py's connect_timeout",
        "10 seconds": "the Redis broker's heartbeat_timeout, RabbitMQ's heartbeat",
        "30 %": "where tests/test_hosts_power_off.py cuts the host",
    },
    "health": {
        "5 seconds": "health.py's HEARTBEAT_SECONDS default",
        "15 minutes": "health.py's HEARTBEAT_STUCK_SECONDS default (900)",
        "10 minutes": "Dramatiq's default time limit",
        "20 seconds": "health.py's HEARTBEAT_STALE_SECONDS default",
        "2 seconds": "the examples' broker timeouts",
        "3.5 seconds": "the bound tests/test_health.py asserts",
        "10 seconds": "the liveness probe's periodSeconds in kubernetes.yaml",
        "60 seconds": "WatchdogSec in the systemd unit",
    },
    "metrics": {
        "15 to 60 seconds": "the example's FEED_MIN_BACKOFF_MS and FEED_MAX_BACKOFF_MS",
        "15 minutes": "the DeadLetters rule's window in alerts.yml",
        "10 minutes": "the TasksFailing rule's for: in alerts.yml",
    },
    "configure": {
        "2 seconds": "the examples' stack_timeout, publish timeout and socket timeouts",
        "5 seconds": "the bound the stalled-broker test asserts; pika's heartbeat check",
        "6 to 12 seconds": "arithmetic on pika's heartbeat checker with heartbeat=1",
        "15 seconds": "pika's default stack_timeout",
        "6 times": "Dramatiq's connection retries",
        "6 copies": "one per retry above",
        "30 minutes": CONSUMER_TIMEOUT,
        "7 days": RETRIES,
    },
    "deployment": {
        "10 minutes": SHUTDOWN,
        "25 seconds": "the page's --worker-shutdown-timeout",
        "10 seconds": SHUTDOWN,
    },
    "email": {
        "50 to 100%": "Dramatiq's backoff jitter",
        "15 seconds": RETRIES,
        "23 to 46 days": "computed from the defaults; test_email_retry_duration checks it",
        "8 times": "the example's max_retries",
        "30 seconds": "the example's min_backoff",
        "15 minutes": "the example's max_backoff",
        "37.5 to 75 minutes": "computed from the example; test_email_retry_duration checks it",
        "30 minutes": CONSUMER_TIMEOUT,
        "40 ms": POLL_CAP,
    },
    "factory": {"40 ms": POLL_CAP},
    "integrations": {"40 ms": POLL_CAP},
    "periodic": {
        "5 seconds": "connect_timeout, RETRY_AFTER and the unit's RestartSec",
        "10 seconds": "the example's lock_timeout and the claim's idle timeout",
        "15 seconds": "the claim's lock_timeout",
        "60 seconds": "the example's statement_timeout",
        "30 seconds": "the unit's TimeoutStopSec",
    },
    "queues": {"7 days": "Dramatiq's default dead_message_ttl"},
    "error_reports": {"15 seconds": "the example's FEED_MIN_BACKOFF_MS"},
    "performance": {
        "500 ms": "the benchmark's slow SMTP server",
        "5 ms": "Dramatiq's Redis consumer's first wait",
        "1000 ms": "Dramatiq's default worker_timeout",
        "40 ms": POLL_CAP,
        "400 times": "the benchmark's calls per method",
        "20 ms": "the benchmark's I/O actor and its pickup goal",
        "100 ms": "a poll cap the guide does not use",
    },
    "reliability": {
        "60 seconds": "Dramatiq's default heartbeat_timeout",
        "10 seconds": "the example's heartbeat_timeout",
        "40 ms": POLL_CAP,
        "10 minutes": SHUTDOWN,
        "5 seconds": "the broker-restart test's minimum outage",
        "3 seconds": "Dramatiq's consumer restart delay",
    },
    "results": {
        "2 seconds": "the result store's socket timeouts",
        "15 seconds": RETRIES,
        "7 days": RETRIES,
        "40 ms": POLL_CAP,
    },
    "security": {"40 ms": POLL_CAP},
    "testing": {
        "100 ms": "join()'s and the StubBroker's polling interval",
        "15 to 30 s": RETRIES,
        "15 s": RETRIES,
    },
    "troubleshooting": {
        "20 times": RETRIES,
        "15 seconds": RETRIES,
        "7 days": RETRIES,
        "60 seconds": "Dramatiq's default heartbeat_timeout",
        "5 seconds": "redis-py's default socket timeout",
        "7 seconds": "the redelivery test's window",
        "30 minutes": CONSUMER_TIMEOUT,
    },
    "worker_tuning": {
        "25 seconds": "the Procfile's --worker-shutdown-timeout",
        "10 minutes": SHUTDOWN,
        "30 seconds": SHUTDOWN,
        "10 seconds": SHUTDOWN,
        "20 seconds": "the example's longest report",
        "1 to 2 seconds": "the example's min_backoff and TimeLimit's check interval",
        "1000 ms": "Dramatiq's default worker_timeout",
        "40 ms": POLL_CAP,
    },
    "workers": {"40 ms": POLL_CAP},
}


# A page split from a longer one shares its settings: they describe one example.
SPLIT_FROM = {
    "benchmark": "performance",
    "email_once": "email",
    "idempotency": "reliability",
    "outages": "reliability",
    "services": "deployment",
    "task_status": "results",
    "troubleshooting_tasks": "troubleshooting",
    "worker_shutdown": "worker_tuning",
}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.stem)
def test_the_prose_types_no_measured_figure(page: Path) -> None:
    allowed = SETTINGS.get(SPLIT_FROM.get(page.stem, page.stem), {})
    typed = [
        f"{page.name}:{number}: {match.group(0)!r} in {text.strip()!r}"
        for number, text in prose(page)
        for match in FIGURE.finditer(text)
        if match.group(0) not in allowed
    ]
    assert not typed, (
        "show measured figures with :measured: (or list a setting):\n"
        + "\n".join(typed)
    )
