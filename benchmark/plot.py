"""results.svg: four panels, one per measurement, one under the other."""

from __future__ import annotations

from pathlib import Path

from benchmark.settings import PICKUP_P50_GOAL_MS
from support.brokers import BROKERS


def plot(results: dict, path: Path, png: bool) -> None:
    """Four panels, one per measurement, RabbitMQ and Redis side by side.

    One column, 346 units wide, with text of 12 units: a 390-pixel phone
    shows it 358 pixels wide, so its text is 12 pixels or more there; a
    desktop shows it 480 pixels wide (benchmark.rst).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    # The same numbers give the same file: no date, no random ids.
    plt.rcParams["svg.hashsalt"] = "performance"
    # Text as text: a smaller file, and the browser's own fonts.
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["font.size"] = 12
    brokers = results["brokers"]
    names = list(brokers)
    colors = {"rabbitmq": "#f60", "redis": "#a41e11"}
    # Each panel as tall as its rows: a category's label, then its two bars.
    rows_per_panel = [3, 11, 5, 6]
    figure, axes = plt.subplots(
        4,
        1,
        figsize=(4.8, 3 + 0.62 * sum(rows_per_panel)),
        layout="constrained",
        gridspec_kw={"height_ratios": [rows + 1.5 for rows in rows_per_panel]},
    )
    plain = FuncFormatter(lambda value, _: f"{value:g}")

    def panel(ax, title: str, unit: str, rows: dict[str, dict], log: bool) -> None:
        """Grouped horizontal bars: rows[broker][category] = (p50, p99 or None)."""
        categories = list(dict.fromkeys(c for r in rows.values() for c in r))
        height = 0.55 / len(names)
        for name in names:
            ys, values, whiskers = [], [], []
            for y, category in enumerate(categories):
                if category in rows[name]:
                    value, high = rows[name][category]
                    # Only the brokers that have the row share its place, so
                    # a lone bar sits right under its label.
                    present = [n for n in names if category in rows[n]]
                    i = present.index(name)
                    ys.append(y + 0.15 + (i - (len(present) - 1) / 2) * height)
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
                    fontsize=12,
                )
        # Each category's label above its bars, across the panel: beside
        # them, long labels would leave the bars no room on a phone.
        for y, category in enumerate(categories):
            ax.annotate(
                category,
                (0, y - 0.3),
                xycoords=("axes fraction", "data"),
                xytext=(2, 0),
                textcoords="offset points",
                va="center",
                # Over the goal's dashed line, not under it.
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
            )
        ax.set_yticks([])
        ax.set_ylim(len(categories) - 0.5, -0.6)
        if log:
            ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plain)
        ax.set_xlabel(unit)
        ax.set_title(title, fontsize=13, loc="left")
        ax.margins(x=0.2)

    views = [
        ("inline", "e-mail sent in the view"),
        ("enqueue", "e-mail enqueued, gunicorn"),
        ("enqueue_dev_server", "e-mail enqueued, flask run"),
    ]
    panel(
        axes[0],
        "1. Request latency of the welcome view",
        "ms, log scale\nbar: p50, whisker: p99",
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
        axes[1],
        "2. Cost of one publish",
        "µs, log scale\nbar: p50, whisker: p99",
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
        axes[2],
        "3. send -> done on an idle worker",
        f"ms, log scale\nbar: p50, whisker: p99, dashed: the {goal:g} ms goal",
        {
            n: {r["settings"]: (r["p50"], r["p99"]) for r in brokers[n]["pickup"]}
            for n in names
        },
        log=True,
    )
    axes[2].axvline(goal, color="black", linestyle="--", linewidth=0.8)
    panel(
        axes[3],
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
    # The key first, above the panels that use it.
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside upper center", ncols=len(names))
    m = results["machine"]
    # Which run drew it goes last: the machine table on the page says more.
    figure.supxlabel(
        f"Dramatiq {m['dramatiq']}, Python {m['python']}, {m['date']}\n"
        f"RabbitMQ {m.get('RabbitMQ server', '-')}, "
        f"Redis {m.get('Redis server', '-')}, {m['cores']} cores",
        fontsize=12,
    )
    figure.savefig(path.with_suffix(".svg"), metadata={"Date": None})
    if png:
        figure.savefig(path.with_suffix(".png"), dpi=80, metadata={"Software": None})
    plt.close(figure)
