"""Check a Grafana dashboard against Grafana's own types, as JSON Schema.

tests/support/grafana/dashboard.schema.json is made from @grafana/schema's
TypeScript types (`nox -s grafana_schema`): the dashboard, its panels, and
the options of the stat and time-series panels. Grafana's importer is more
lenient (it upgrades old dashboards); a dashboard that passes here imports
as is. The keys an export for sharing adds (``__inputs``) are not part of
the model: Grafana's import reads them to ask for the data source.
"""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft7Validator

SCHEMA = json.loads(
    (Path(__file__).parent / "grafana" / "dashboard.schema.json").read_text()
)
# Per panel type: its options' type, and its field config's custom type.
PANEL_TYPES = {
    "stat": ("StatOptions", None),
    "timeseries": ("TimeseriesOptions", "TimeseriesFieldConfig"),
}


def errors(dashboard: dict) -> list[str]:
    """What Grafana's types reject in ``dashboard``, each with its JSON path."""
    top = {
        k: v for k, v in dashboard.items() if not k.startswith("__") and k != "panels"
    }
    found = check(top, "DashboardJSON", "")
    if not str(dashboard.get("title", "")).strip():
        found.append("title: empty; Grafana refuses to save a dashboard without one")
    for number, panel in enumerate(dashboard.get("panels", [])):
        where = f"panels/{number}"
        found += check(panel, "Panel", where)
        if panel.get("type") not in PANEL_TYPES:
            found.append(f"{where}/type: not one of {sorted(PANEL_TYPES)}")
            continue
        options, custom = PANEL_TYPES[panel["type"]]
        found += check(panel.get("options", {}), options, f"{where}/options")
        if custom:
            defaults = panel.get("fieldConfig", {}).get("defaults", {})
            found += check(defaults.get("custom", {}), custom, f"{where}/custom")
        found += [
            f"{where}/targets/{n}: no refId or no expr"
            for n, target in enumerate(panel.get("targets", []))
            if not (target.get("refId") and target.get("expr"))
        ]
    return found


def check(value: object, definition: str, where: str) -> list[str]:
    validator = Draft7Validator({**SCHEMA, "$ref": f"#/definitions/{definition}"})
    return [
        "/".join([where, *map(str, error.absolute_path)]).strip("/")
        + f": {error.message}"
        for error in validator.iter_errors(value)
    ]


def queries(dashboard: dict) -> list[str]:
    """Every PromQL expression of the dashboard's panels."""
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
