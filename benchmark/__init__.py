"""The benchmark behind docs/performance.rst and docs/benchmark.rst: ``nox -s bench``.

Not a test (pytest does not collect it). One run measures, for RabbitMQ and
Redis side by side, with the example in ``examples/performance/<broker>``:

1. request latency: the view that sends the e-mail in the request, against a
   local SMTP server that takes 500 ms, vs the view that enqueues it, over
   real HTTP on 127.0.0.1;
2. enqueue cost: ``actor.send()`` vs a raw publish with the same client
   library (pika ``basic_publish`` with and without publisher confirms;
   redis-py ``LPUSH``) vs Celery's ``delay()``, interleaved in one process;
3. pickup latency: send -> done on an idle worker, with Dramatiq's defaults
   and with the guide's settings (and, on Redis, other poll caps and what
   each costs while idle);
4. throughput: messages/s of one worker for a no-op and an I/O-bound actor,
   for a few ``--processes`` x ``--threads``.

The actors tell the benchmark they are done with one UDP datagram to
127.0.0.1, so "done" is seen without asking the broker. Everything runs on
this machine: real brokers (RABBITMQ_URL, REDIS_URL), real ``dramatiq`` and
``gunicorn`` processes started from the example's Procfile.

It writes results.json, one CSV per table and results.svg into
docs/_static/performance/, and the figures the pages quote into
docs/_data/performance.json; it prints the tables and one PASS/FAIL line per
goal, and with --strict exits 1 when a goal fails.

Run from the repository's root as ``python -m benchmark`` (``--help`` lists
the options). The modules: settings (names, goals, sample counts), stats,
example (the example's processes and the actors' UDP probe), one module per
measurement (request_latency, enqueue_cost, pickup_latency, throughput),
report (goals, tables, figures, CSV and JSON files), plot (results.svg), and
__main__ (the command line and the order of the run).
"""

import sys
from pathlib import Path

# The benchmark reaches the brokers and runs the example's processes with the
# tests' own helpers (support.brokers, support.processes). They live in the
# package tests/support, which pytest imports through its pythonpath setting
# and the benchmark through this entry, first so that it wins; docs/_ext
# holds where the figures go (figure_data.py).
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "docs" / "_ext")]
