# Terminal commands from the guide, in the order it runs them.
# Run them from this folder.

# [docs:install]
python -m venv .venv
. .venv/bin/activate
python -m pip install -r requirements.txt
# [docs:install:end]

# [docs:activate]
. .venv/bin/activate
# [docs:activate:end]

# [docs:request]
# Nothing listens on port 9: the import fails, and Dramatiq retries it.
curl --data url=http://127.0.0.1:9/feed.xml http://127.0.0.1:8000/feeds
# [docs:request:end]

# [docs:worker-metrics]
curl -s http://127.0.0.1:9191/metrics | grep -E '^dramatiq_[a-z_]+_total' | sort
# [docs:worker-metrics:end]

# [docs:app-metrics]
curl -s http://127.0.0.1:9200/metrics | grep -E '^flask_http_requests_total'
# [docs:app-metrics:end]

# [docs:prometheus]
prometheus --config.file=prometheus.yml --web.listen-address=127.0.0.1:9090 \
  --storage.tsdb.path=prometheus-data
# [docs:prometheus:end]

# [docs:query]
curl -s http://127.0.0.1:9090/api/v1/query --data-urlencode \
  'query=sum by (actor_name) (dramatiq_message_rejects_total)'
# [docs:query:end]

# [docs:broker-metrics-local]
# Debian and Ubuntu. The package also starts the exporter as a service, on
# every interface and without your queues: stop it, or give it the flags
# below in ARGS, in /etc/default/prometheus-redis-exporter.
sudo apt-get install prometheus-redis-exporter
sudo service prometheus-redis-exporter stop
prometheus-redis-exporter -web.listen-address=127.0.0.1:9121 \
  -check-single-keys=dramatiq:feeds,dramatiq:feeds.DQ,dramatiq:feeds.XQ
# [docs:broker-metrics-local:end]

# [docs:broker-metrics]
curl -s http://127.0.0.1:9121/metrics | grep '^redis_key_size'
# [docs:broker-metrics:end]

# [docs:promtool]
promtool check config prometheus.yml
promtool test rules alerts_test.yml
# [docs:promtool:end]
