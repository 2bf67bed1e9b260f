"""results.svg: four panels, one per measurement."""

from __future__ import annotations

from pathlib import Path

from benchmark.settings import PICKUP_P50_GOAL_MS
from support.brokers import BROKERS


def plot(results: dict, path: Path, png: bool) -> None:
    """Four panels, one per measurement, RabbitMQ and Redis side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    # The same numbers give the same file: no date, no random ids.
    plt.rcParams["svg.hashsalt"] = "performance"
    # Text as text: a smaller file, and the browser's own fonts.
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["font.size"] = 8
    brokers = results["brokers"]
    names = list(brokers)
    colors = {"rabbitmq": "#f60", "redis": "#a41e11"}
    figure, axes = plt.subplots(2, 2, figsize=(12, 9), layout="constrained")
    plain = FuncFormatter(lambda value, _: f"{value:g}")

    def panel(ax, title: str, unit: str, rows: dict[str, dict], log: bool) -> None:
        """Grouped horizontal bars: rows[broker][category] = (p50, p99 or None)."""
        categories = list(dict.fromkeys(c for r in rows.values() for c in r))
        height = 0.8 / len(names)
        for i, name in enumerate(names):
            ys, values, whiskers = [], [], []
            for y, category in enumerate(categories):
                if category in rows[name]:
                    value, high = rows[name][category]
                    ys.append(y + (i - (len(names) - 1) / 2) * height)
                    values.append(value)
                    whiskers.append(max((high or value) - value, 0))
            ax.barh(
                ys,
                values,
                height,
                xerr=[[0] * len(ys), whiskers],
                color=colors[name],
                label=BROKERS[name].label,
                capsize=2,
                error_kw={"linewidth": 0.8},
            )
            for y, value, whisker in zip(ys, values, whiskers, strict=True):
                text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
                ax.annotate(
                    text,
                    (value + whisker, y),
                    va="center",
                    xytext=(3, 0),
                    textcoords="offset points",
                    fontsize=7,
                )
        ax.set_yticks(range(len(categories)), categories)
        ax.invert_yaxis()
        if log:
            ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plain)
        ax.set_xlabel(unit)
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right")
        ax.margins(x=0.15)

    views = [
        ("inline", "e-mail sent in the view"),
        ("enqueue", "e-mail enqueued, gunicorn"),
        ("enqueue_dev_server", "e-mail enqueued, flask run"),
    ]
    panel(
        axes[0][0],
        "1. Request latency of the welcome view",
        "ms, log scale (bar: p50, whisker: p99)",
        {
            n: {
                label: (
                    brokers[n]["requests"][key]["p50"],
                    brokers[n]["requests"][key]["p99"],
                )
                for key, label in views
            }
            for n in names
        },
        log=True,
    )
    confirms = {True: ", confirms", False: ", no confirms", None: ""}
    panel(
        axes[0][1],
        "2. Cost of one publish",
        "µs, log scale (bar: p50, whisker: p99)",
        {
            n: {
                f"{r['method']}{confirms[r['confirms']]}": (r["p50"], r["p99"])
                for r in brokers[n]["enqueue"]
            }
            for n in names
        },
        log=True,
    )
    goal = PICKUP_P50_GOAL_MS
    panel(
        axes[1][0],
        "3. send -> done on an idle worker",
        f"ms, log scale (bar: p50, whisker: p99; dashed: the {goal:g} ms goal)",
        {
            n: {r["settings"]: (r["p50"], r["p99"]) for r in brokers[n]["pickup"]}
            for n in names
        },
        log=True,
    )
    axes[1][0].axvline(goal, color="black", linestyle="--", linewidth=0.8)
    panel(
        axes[1][1],
        "4. Throughput of one worker",
        "messages/s, log scale",
        {
            n: {
                f"{r['actor']}, -p {r['processes']} -t {r['threads']}": (
                    r["messages_per_s"],
                    None,
                )
                for r in brokers[n]["throughput"]
            }
            for n in names
        },
        log=True,
    )
    m = results["machine"]
    figure.suptitle(
        f"Dramatiq {m['dramatiq']} on {m['cores']} cores ({m['cpu']}), "
        f"Python {m['python']}, RabbitMQ {m.get('RabbitMQ server', '-')}, "
        f"Redis {m.get('Redis server', '-')}, {m['date']}",
        fontsize=10,
    )
    figure.savefig(path.with_suffix(".svg"), metadata={"Date": None})
    if png:
        figure.savefig(path.with_suffix(".png"), dpi=80, metadata={"Software": None})
    plt.close(figure)
