"""The report: the goals, the tables, the CSV and JSON files, what is printed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from benchmark.plot import plot
from benchmark.settings import (
    GUIDE,
    PICKUP_P50_GOAL_MS,
    SEND_RATIO_GOAL,
    TIME_BUDGET_S,
)
from support.brokers import BROKERS


def check_goals(results: dict) -> list[dict]:
    goals = []

    def goal(name: str, broker: str, value: float, limit: float, unit: str) -> None:
        goals.append(
            {
                "goal": name,
                "broker": broker,
                "value": round(value, 2),
                "limit": round(limit, 2),
                "unit": unit,
                "result": "PASS" if value <= limit else "FAIL",
            }
        )

    for name, broker in results["brokers"].items():
        label = BROKERS[name].label
        [guide] = [p for p in broker["pickup"] if p["settings"] == GUIDE]
        goal(
            "send-to-done p50, the guide's worker",
            label,
            guide["p50"],
            PICKUP_P50_GOAL_MS,
            "ms",
        )
        # Like with like: the guide's RabbitMQ broker waits for confirms.
        confirms = True if name == "rabbitmq" else None
        rows = {r["method"]: r for r in broker["enqueue"] if r["confirms"] is confirms}
        send = rows["Dramatiq send()"]
        goal(
            "send() p50 / raw publish p50",
            label,
            send["ratio_to_raw"],
            SEND_RATIO_GOAL,
            "x",
        )
        goal(
            "send() p50 / Celery delay() p50",
            label,
            send["p50"] / rows["Celery delay()"]["p50"],
            1.0,
            "x",
        )
    goal("whole benchmark", "both", results["seconds"], TIME_BUDGET_S, "s")
    return goals


Table = tuple[list[str], list[list]]  # A header, then rows.


def tables(results: dict) -> dict[str, Table]:
    """The results as the tables the Performance page shows, one per CSV file."""
    out: dict[str, Table] = {
        "requests": (
            [
                "Broker",
                "View",
                "Server",
                "Requests",
                "p50 (ms)",
                "p99 (ms)",
                "Max (ms)",
                "Open files per request",
            ],
            [],
        ),
        "enqueue": (
            [
                "Broker",
                "Method",
                "Confirms",
                "Calls",
                "p50 (µs)",
                "p99 (µs)",
                "p50 / raw publish p50",
            ],
            [],
        ),
        "pickup": (
            [
                "Broker",
                "Worker",
                "Poll cap (ms)",
                "Processes",
                "Messages",
                "p50 (ms)",
                "p99 (ms)",
                "Max (ms)",
                "Idle: Redis calls/s",
                "Idle: worker CPU (% of a core)",
            ],
            [],
        ),
        "throughput": (
            ["Broker", "Actor", "Processes", "Threads", "Messages", "Messages/s"],
            [],
        ),
    }
    views = [
        ("e-mail sent in the view", "gunicorn", "inline"),
        ("e-mail enqueued", "gunicorn", "enqueue"),
        ("e-mail enqueued", "flask run", "enqueue_dev_server"),
    ]
    for name, broker in results["brokers"].items():
        label = BROKERS[name].label
        for view, server, key in views:
            r = broker["requests"][key]
            out["requests"][1].append(
                [
                    label,
                    view,
                    server,
                    r["n"],
                    r["p50"],
                    r["p99"],
                    r["max"],
                    r.get("open_files_per_request", ""),
                ]
            )
        for r in broker["enqueue"]:
            confirms = {True: "yes", False: "no", None: "n/a"}[r["confirms"]]
            out["enqueue"][1].append(
                [
                    label,
                    r["method"],
                    confirms,
                    r["n"],
                    r["p50"],
                    r["p99"],
                    r["ratio_to_raw"],
                ]
            )
        for r in broker["pickup"]:
            calls = r["idle_broker_calls_per_s"] if name == "redis" else "n/a"
            out["pickup"][1].append(
                [
                    label,
                    r["settings"],
                    r["worker_timeout_ms"],
                    r["processes"],
                    r["n"],
                    r["p50"],
                    r["p99"],
                    r["max"],
                    calls,
                    r["idle_worker_cpu_percent"],
                ]
            )
        for r in broker["throughput"]:
            out["throughput"][1].append(
                [
                    label,
                    r["actor"],
                    r["processes"],
                    r["threads"],
                    r["messages"],
                    r["messages_per_s"],
                ]
            )
    out["goals"] = (
        ["Goal", "Broker", "Measured", "Limit", "Unit", "Result"],
        [
            [g["goal"], g["broker"], g["value"], g["limit"], g["unit"], g["result"]]
            for g in results["goals"]
        ],
    )
    out["machine"] = (
        ["Item", "Value"],
        [[k, v] for k, v in results["machine"].items()],
    )
    return out


def readable(value: object) -> object:
    """A measured number with three significant digits: 512, 12.3, 1.23, 0.123."""
    if not isinstance(value, float):
        return value
    for digits, limit in ((0, 100), (1, 10), (2, 0.1)):
        if abs(value) >= limit:
            return round(value, digits) if digits else round(value)
    return round(value, 3)


def write_csv(path: Path, table: Table) -> None:
    header, rows = table
    rows = [[readable(value) for value in row] for row in rows]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def print_table(title: str, table: Table) -> None:
    header, rows = table
    cells = [header, *([str(readable(value)) for value in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for row in cells:
        print(
            "  ".join(
                value.ljust(width) for value, width in zip(row, widths, strict=True)
            )
        )


def write_and_report(
    results: dict, out: Path, logs: Path | None, strict: bool, png: bool
) -> int:
    """Write the JSON, CSV and plot files; print the tables and the goals."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    shown = tables(results)
    for name, table in shown.items():
        write_csv(out / f"{name}.csv", table)
    plot(results, out / "results.svg", png)

    for name, table in shown.items():
        if name != "goals":
            print_table(name, table)
    print(
        f"\nLoad average before/after: {results['load_average_before']} / "
        f"{results['load_average_after']}"
    )
    if logs:
        print(f"Logs of the web servers and workers: {logs}")
    print(f"Wrote {out}\n")
    for row in results["goals"]:
        print(
            f"{row['result']}  {row['broker']:8}  {row['goal']}: "
            f"{row['value']} {row['unit']} (limit {row['limit']} {row['unit']})"
        )
    failed = any(row["result"] == "FAIL" for row in results["goals"])
    return 1 if strict and failed else 0
