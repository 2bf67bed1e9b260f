"""docs/metrics.rst: the Grafana dashboard imports as is.

It is checked against Grafana's own dashboard and panel types (as JSON
Schema, tests/support/dashboards.py). Its queries run against a real
Prometheus in tests/test_metrics_prometheus.py.
"""

from __future__ import annotations

import copy
import json

import pytest

from support.dashboards import errors
from support.examples import EXAMPLES

DASHBOARDS = sorted(EXAMPLES.glob("metrics/*/dashboard.json"))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.parent.name)
def test_the_dashboard_fits_grafanas_types(path) -> None:
    assert errors(json.loads(path.read_text())) == []


def test_the_check_finds_what_grafana_would_refuse() -> None:
    dashboard = json.loads(DASHBOARDS[0].read_text())
    for change, expected in [
        (lambda d: d["panels"][0].update(gridPos={"h": "8"}), "panels/0/gridPos/h"),
        (lambda d: d["panels"][0]["options"].update(colorMode="purple"), "colorMode"),
        (lambda d: d["panels"][2].update(legend=True), "legend"),
        (lambda d: d.update(schemaVersion="39"), "schemaVersion"),
        (lambda d: d["panels"][2]["targets"][0].pop("refId"), "refId"),
        (lambda d: d.update(title=""), "title"),
    ]:
        broken = copy.deepcopy(dashboard)
        change(broken)
        assert any(expected in error for error in errors(broken)), expected
