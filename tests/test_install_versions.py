"""docs/install.rst, "Verified versions": the versions the examples ran on.

Under ``nox -s measure`` this records, per broker, the installed versions of
what the examples run on and the broker server's own, into
docs/_data/install.json; the page's table shows them.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest

from support.brokers import BROKERS
from support.figures import record
from support.versions import PACKAGES, installed

PAGE = Path(__file__).resolve().parents[1] / "docs" / "install.rst"


def server_version(broker: str) -> str:
    """The version the running broker server reports about itself."""
    url = BROKERS[broker].url
    if broker == "rabbitmq":
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            return str(connection._impl.server_properties["version"])
        finally:
            connection.close()
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    with client:
        return client.info("server")["redis_version"]


@pytest.mark.figure
@pytest.mark.parametrize(
    "broker",
    [pytest.param(name, marks=getattr(pytest.mark, name)) for name in PACKAGES],
)
def test_record_the_versions_the_examples_run_on(broker: str) -> None:
    versions = {
        **installed(broker),
        "python": platform.python_version(),
        "server": f"{BROKERS[broker].label} {server_version(broker)}",
    }
    for name, version in versions.items():
        assert re.fullmatch(r"[\w.+ -]+", version), (name, version)
        record("install", f"versions.{broker}.{name}", version)
    # The page's table shows each of them, and nothing else of this broker.
    shown = set(
        re.findall(rf":measured:`install\.versions\.{broker}\.(\w+)`", PAGE.read_text())
    )
    assert shown == set(versions)
