"""What the tests share: example folders, brokers, processes, output, pages.

- examples: one example folder (Example), its pytest params, a ready broker.
- brokers: RabbitMQ and Redis as the tests reach them, and hung servers.
- broker_control: stop and start the shared broker as its admin would.
- processes: the commands a test starts, free ports, polling with a deadline.
- output: the one normalization of shown output, and its regeneration.
- figures: record the figures the pages show (docs/_data).
- databases: PostgreSQL for the reliability example.
- site_build: the built HTML pages.
- browser: the Chrome or Chromium the site tests drive.
- stall_proxy: a TCP relay that stops relaying on demand.
- views: what the tests of every example's Flask app share.
- deployment, email, reliability, results, troubleshooting, worker_tuning:
  what the test modules of one page share (its example fixture, its
  processes).

A module that defines a fixture names the function fixture_<name>, so that
a test's parameter ``<name>`` does not shadow the import (ruff's F811).
"""
