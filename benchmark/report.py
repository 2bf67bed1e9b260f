"""The report: the goals, the tables, the figures, the files, what is printed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from benchmark.plot import plot
from benchmark.settings import (
    FIGURES,
    GUIDE,
    OUT,
    PICKUP_P50_GOAL_MS,
    SEND_RATIO_GOAL,
    SMTP_DELAY,
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


def figures(results: dict) -> dict:
    """The figures the pages quote, rounded as they show them.

    docs/performance.rst, docs/workers.rst and docs/worker_tuning.rst show
    them with ``:measured:`performance.<group>.<key>``` (docs/_ext/measured.py).
    Raises LookupError when the run lacks one: a single broker, or --quick.
    """
    brokers = results["brokers"]
    if set(brokers) != {"rabbitmq", "redis"}:
        raise LookupError("the pages quote both brokers")
    rabbitmq, redis = brokers["rabbitmq"], brokers["redis"]

    def one(rows: list[dict], **match: object) -> dict:
        found = [r for r in rows if all(r[k] == v for k, v in match.items())]
        if len(found) != 1:
            raise LookupError(f"no single row with {match}")
        return found[0]

    def pickup(broker: dict, settings: str) -> dict:
        return one(broker["pickup"], settings=settings)

    def enqueue(broker: dict, method: str, confirms: bool | None = None) -> dict:
        return one(broker["enqueue"], method=method, confirms=confirms)

    def rate(broker: dict, actor: str, processes: int, threads: int) -> float:
        row = one(
            broker["throughput"], actor=actor, processes=processes, threads=threads
        )
        return row["messages_per_s"]

    send, script = "Dramatiq send()", "Dramatiq's enqueue script alone"
    # The median cost of one publish, in µs; the guide's RabbitMQ confirms.
    rabbitmq_send = enqueue(rabbitmq, send, True)["p50"]
    redis_send = enqueue(redis, send)["p50"]
    slowest = max(r["p50"] for b in brokers.values() for r in b["enqueue"])
    email_us = SMTP_DELAY * 1e6  # The e-mail a publish replaces.
    guide, one_process = pickup(redis, GUIDE), pickup(redis, f"{GUIDE}, --processes 1")
    default = pickup(redis, "Dramatiq defaults")
    io, noop = "I/O 20 ms", "no-op"
    goals = results["goals"]  # check_goals(), as the run recorded them
    return {
        "benchmark_seconds": round(results["seconds"]),
        "goals": {
            "total": len(goals),
            "passed": sum(goal["result"] == "PASS" for goal in goals),
        },
        "request_ms": {
            "rabbitmq_enqueue_p50": round(rabbitmq["requests"]["enqueue"]["p50"], 1),
            "redis_enqueue_p50": round(redis["requests"]["enqueue"]["p50"], 1),
            "rabbitmq_dev_server_p50": round(
                rabbitmq["requests"]["enqueue_dev_server"]["p50"], 1
            ),
        },
        "open_files_per_request": {
            "rabbitmq_dev_server": round(
                rabbitmq["requests"]["enqueue_dev_server"]["open_files_per_request"], 1
            ),
        },
        "enqueue_us": {
            "rabbitmq_send_p50": round(rabbitmq_send),
            "redis_send_p50": round(redis_send),
            # What Dramatiq adds to a raw publish with confirms.
            "rabbitmq_send_over_raw": round(
                rabbitmq_send - enqueue(rabbitmq, "raw publish (pika)", True)["p50"]
            ),
            # What a confirm adds to a send.
            "rabbitmq_confirm_cost": round(
                rabbitmq_send - enqueue(rabbitmq, send, False)["p50"]
            ),
            # What building the message adds to the enqueue script.
            "redis_send_over_script": round(redis_send - enqueue(redis, script)["p50"]),
            "slowest_p50": round(slowest),
        },
        # A send against a raw publish with the same client, like for like.
        "send_ratio": {
            "rabbitmq": round(enqueue(rabbitmq, send, True)["ratio_to_raw"], 2),
            "rabbitmq_no_confirms": round(
                enqueue(rabbitmq, send, False)["ratio_to_raw"], 2
            ),
            "redis": round(enqueue(redis, send)["ratio_to_raw"], 2),
            "redis_script": round(enqueue(redis, script)["ratio_to_raw"], 2),
        },
        # How many times less a publish costs than the e-mail it replaces.
        "email_over_enqueue": {
            "slowest": round(email_us / slowest),
            "rabbitmq_send": round(email_us / rabbitmq_send),
            "redis_send": round(email_us / redis_send),
        },
        "pickup_ms": {
            "rabbitmq_p50": round(pickup(rabbitmq, GUIDE)["p50"], 1),
            "redis_guide_p50": round(guide["p50"]),
            "redis_one_process_p50": round(one_process["p50"]),
            "redis_one_process_max": round(one_process["max"]),
            "redis_default_p50": round(default["p50"]),
            "redis_default_max": round(default["max"]),
        },
        "idle_calls_per_second": {
            "redis_guide": round(guide["idle_broker_calls_per_s"]),
            "redis_default": round(default["idle_broker_calls_per_s"], 1),
        },
        # 8 threads against 1, then 2 processes of 8 threads against 1.
        "throughput_factor": {
            f"{name}_{step}": round(rate(b, io, *more) / rate(b, io, *fewer), 1)
            for name, b in brokers.items()
            for step, fewer, more in (
                ("threads", (1, 1), (1, 8)),
                ("processes", (1, 8), (2, 8)),
            )
        },
        "noop_per_second": {
            f"{name}_one_thread": round(rate(b, noop, 1, 1))
            for name, b in brokers.items()
        },
        # The time one process of 8 threads takes per no-op message.
        "noop_ms_per_message": {
            name: round(1000 / rate(b, noop, 1, 8), 2) for name, b in brokers.items()
        },
    }


def write_figures(results: dict, out: Path) -> str:
    """performance.json: in docs/_data for the pages, or next to a trial's files.

    Returns what it did, to print.
    """
    path = FIGURES if out.resolve() == OUT.resolve() else out / FIGURES.name
    try:
        shown = figures(results)
    except LookupError as error:
        return f"Left {path} as it was: {error}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(shown, indent=2, sort_keys=True) + "\n")
    return f"Wrote {path}"


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
    """Write the JSON, CSV, figures and plot files; print the tables and goals."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    shown = tables(results)
    for name, table in shown.items():
        write_csv(out / f"{name}.csv", table)
    wrote_figures = write_figures(results, out)
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
    print(f"Wrote {out}")
    print(f"{wrote_figures}\n")
    for row in results["goals"]:
        print(
            f"{row['result']}  {row['broker']:8}  {row['goal']}: "
            f"{row['value']} {row['unit']} (limit {row['limit']} {row['unit']})"
        )
    failed = any(row["result"] == "FAIL" for row in results["goals"])
    return 1 if strict and failed else 0
