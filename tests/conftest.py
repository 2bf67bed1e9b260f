"""pytest's set-up for every test: commands, broker namespaces, test order.

The helpers the tests share live in the support package (tests/support/).
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from support.brokers import BROKERS
from support.databases import drop_run_databases
from support.processes import parallel_number
from support.topics import is_about

# The commands the tests start (dramatiq, flask, ...) must come from the
# virtualenv that runs pytest, also when pytest is started by its full path.
os.environ["PATH"] = os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ["PATH"]]
)

# One name for this test run, which its pytest-xdist test processes inherit:
# they share the databases they make (support/databases.py).
os.environ.setdefault("GUIDE_TEST_RUN", uuid.uuid4().hex[:8])

# Under pytest-xdist each worker process (gw0, gw1, ...) runs its tests in a
# broker namespace of its own: a RabbitMQ vhost and a Redis database. The
# examples read their broker URL from the environment, so every worker,
# web app and command a test starts inherits it.
if (number := parallel_number()) is not None:
    for _broker in BROKERS.values():
        os.environ[_broker.url_variable] = _broker.url_in_namespace(number + 1)


# Under pytest-xdist, longest tests first, by the times of their last run:
# a long test started last would finish last. (Run one at a time, tests keep
# their file order, so module-scoped fixtures are made once.)
DURATIONS = "guide/durations"
_durations: dict[str, float] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--topic",
        metavar="TOPIC",
        help="only the tests of examples/TOPIC (nox -s topic -- TOPIC)",
    )


# Last: after -m and -k have deselected, so that the order below holds for the
# tests that run.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if topic := config.getoption("topic"):
        kept, other = [], []
        for item in items:
            params = item.callspec.params if hasattr(item, "callspec") else {}
            (kept if is_about(item.path, params, topic) else other).append(item)
        config.hook.pytest_deselected(items=other)
        items[:] = kept
    if not hasattr(config, "workerinput") or not hasattr(config, "cache"):
        return
    known = config.cache.get(DURATIONS, {})
    items.sort(key=lambda item: -known.get(item.nodeid, 0.0))
    # pytest-xdist's load scheduling queues a test behind each running one,
    # and starts each process with two consecutive tests: with the longest
    # first, the two longest would run one after the other in the first
    # process. So each process starts with one of the longest tests and one
    # of the shortest (it runs that one after its long one).
    workers = config.workerinput["workercount"]
    if len(items) >= 2 * workers:
        longest, shortest = items[:workers], items[: -workers - 1 : -1]
        rest = items[workers:-workers]
        items[:] = [
            *(t for pair in zip(longest, shortest, strict=True) for t in pair),
            *rest,
        ]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # A pytest-xdist worker: pytest's own process does the rest.
    drop_run_databases()
    if not hasattr(session.config, "cache"):
        return  # -p no:cacheprovider
    known = session.config.cache.get(DURATIONS, {})
    session.config.cache.set(DURATIONS, {**known, **_durations})
