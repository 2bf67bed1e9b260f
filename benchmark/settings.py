"""What the benchmark measures, against what, and how many times."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from figure_data import DATA

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "performance"
OUT = ROOT / "docs" / "_static" / "performance"
# The figures the pages quote (docs/_ext/measured.py reads them).
FIGURES = DATA / "performance.json"

QUEUE = "bench"  # The example's queue (tasks.QUEUE).
RAW_QUEUE = "bench-raw"  # Where the raw client publishes go.
CELERY_QUEUE = "bench-celery"

WEB_ADDRESS = "127.0.0.1:8000"  # Where the Procfile's gunicorn listens.
SMTP_DELAY = 0.5  # Seconds the local SMTP server takes to accept an e-mail.
IO_SECONDS = 0.02  # How long the I/O-bound actor waits.
TIMEOUT_VARIABLE = "dramatiq_worker_timeout"
GUIDE = "the guide's Procfile"  # The worker line examples/performance recommends.
DEFAULT_WORKER_TIMEOUT = 1000  # ms, Dramatiq's default.
OTHER_REDIS_TIMEOUTS = (100, 20)  # Redis poll caps measured besides the two.

# Goals (issue "Performance"): checked on every run.
PICKUP_P50_GOAL_MS = 20.0
SEND_RATIO_GOAL = 2.0
TIME_BUDGET_S = 180.0

# The commands need the virtualenv that runs the benchmark.
os.environ["PATH"] = os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ["PATH"]]
)
# Dramatiq's defaults mean no override from the caller's environment.
os.environ.pop(TIMEOUT_VARIABLE, None)


@dataclass
class Counts:
    """How many samples each measurement takes, and how long it may last."""

    inline: int = 10
    enqueue_http: int = 200
    dev_server: int = 100
    enqueue_rounds: int = 400
    new_thread: int = 50
    pickup: int = 30
    pickup_slow: int = 8  # Samples with Dramatiq's 1 s Redis poll cap.
    noop: int = 3000  # At most; 300 per thread.
    io_per_thread: int = 50
    idle_window: float = 1.5
    settings: list[tuple[int, int]] = field(
        default_factory=lambda: [(1, 1), (1, 8), (2, 8)]
    )

    @classmethod
    def quick(cls) -> Counts:
        return cls(
            inline=4,
            enqueue_http=40,
            dev_server=20,
            enqueue_rounds=60,
            new_thread=10,
            pickup=8,
            pickup_slow=3,
            noop=300,
            io_per_thread=15,
            idle_window=1.0,
            settings=[(1, 8), (2, 8)],
        )
