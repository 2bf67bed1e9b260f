"""What the tests share: example folders, brokers, processes, output, pages.

- examples: one example folder (Example), its pytest params, a ready broker.
- brokers: RabbitMQ and Redis as the tests reach them, and hung servers.
- processes: the commands a test starts, free ports, polling with a deadline.
- output: the one normalization of what a run prints.
- databases: PostgreSQL for the reliability example.
- site_build: the built HTML pages.
- stall_proxy: a TCP relay that stops relaying on demand.
"""
