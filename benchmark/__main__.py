"""``python -m benchmark``: the command line, and the order of one run."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import benchmark
from benchmark.enqueue_cost import measure_enqueue
from benchmark.example import Example, Probe, forget_killed_workers
from benchmark.pickup_latency import measure_pickup
from benchmark.report import check_goals, write_and_report
from benchmark.request_latency import measure_requests
from benchmark.settings import (
    DEFAULT_WORKER_TIMEOUT,
    GUIDE,
    OTHER_REDIS_TIMEOUTS,
    OUT,
    QUEUE,
    TIMEOUT_VARIABLE,
    Counts,
)
from benchmark.throughput import measure_throughput
from support.brokers import BROKERS

PACKAGES = ("dramatiq", "pika", "redis", "celery", "kombu", "amqp", "flask", "gunicorn")


def machine(names: list[str]) -> dict[str, str]:
    """What produced the numbers: hardware, Python, packages, broker versions."""
    cpuinfo = (
        Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    )
    models = [
        line.split(":", 1)[1].strip()
        for line in cpuinfo.splitlines()
        if line.startswith("model name")
    ]
    info = {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": models[0] if models else platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    for package in PACKAGES:
        info[package] = metadata.version(package)
    if "rabbitmq" in names:
        import pika

        with pika.BlockingConnection(pika.URLParameters(BROKERS["rabbitmq"].url)) as c:
            info["RabbitMQ server"] = str(c._impl.server_properties["version"])
    if "redis" in names:
        import redis

        with redis.Redis.from_url(BROKERS["redis"].url) as client:
            info["Redis server"] = client.info("server")["redis_version"]
    return info


def run_broker(example: Example, counts: Counts) -> dict:
    redis = example.broker.name == "redis"
    started = time.perf_counter()

    def log(what: str) -> None:
        took = time.perf_counter() - started
        print(f"[{example.broker.label} +{took:5.1f} s] {what}", flush=True)

    log("1/4 request latency")
    requests = measure_requests(example, counts)
    tasks = example.import_tasks()
    example.broker.flush(QUEUE)
    probe = Probe()
    try:
        log("2/4 enqueue cost")
        enqueue = measure_enqueue(example, tasks, counts)
        log("3/4 pickup latency")
        recommended = example.worker_timeout()
        slow = counts.pickup_slow if redis else counts.pickup
        variants = [
            ("Dramatiq defaults", DEFAULT_WORKER_TIMEOUT, slow, None),
            (GUIDE, recommended, counts.pickup, None),
            (f"{GUIDE}, --processes 1", recommended, counts.pickup, 1),
        ]
        if redis:
            variants += [
                (f"{TIMEOUT_VARIABLE}={t}", t, counts.pickup, None)
                for t in OTHER_REDIS_TIMEOUTS
                if t != recommended
            ]
        pickup, measured = [], {}
        for label, timeout, samples, processes in variants:
            # On RabbitMQ the guide's worker is Dramatiq's: measure it once.
            key = (timeout, processes)
            if key not in measured:
                measured[key] = measure_pickup(
                    example, tasks, probe, label, timeout, samples, counts, processes
                )
            pickup.append({**measured[key], "settings": label})
        example.broker.flush(QUEUE)
        log("4/4 throughput")
        throughput = measure_throughput(example, tasks, probe, counts)
        log("done")
    finally:
        probe.close()
        tasks.broker.close()
        example.broker.flush(QUEUE)
        if redis:
            forget_killed_workers(example.broker.url)
    return {
        "recommended_worker_timeout_ms": recommended,
        "requests": requests,
        "enqueue": enqueue,
        "pickup": pickup,
        "throughput": throughput,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark", description=benchmark.__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="few samples, to try it")
    parser.add_argument(
        "--broker",
        choices=list(BROKERS),
        action="append",
        help="only this broker (repeat for both)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT}")
    parser.add_argument(
        "--png", action="store_true", help="also write results.png, next to results.svg"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a goal fails"
    )
    parser.add_argument(
        "--replot",
        action="store_true",
        help="only redraw the files from the results.json in --out",
    )
    args = parser.parse_args()
    if args.replot:
        results = json.loads((args.out / "results.json").read_text())
        return write_and_report(results, args.out, None, args.strict, args.png)
    counts = Counts.quick() if args.quick else Counts()
    names = args.broker or list(BROKERS)
    for name in names:
        if not BROKERS[name].is_reachable():
            print(BROKERS[name].unreachable_message(), file=sys.stderr)
            return 2
    started = time.perf_counter()
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    results: dict = {
        "machine": machine(names),
        "counts": asdict(counts),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "brokers": {},
    }
    for name in names:
        results["brokers"][name] = run_broker(Example(BROKERS[name], logs), counts)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["goals"] = check_goals(results)
    return write_and_report(results, args.out, logs, args.strict, args.png)


if __name__ == "__main__":
    sys.exit(main())
