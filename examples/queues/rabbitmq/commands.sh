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

# [docs:send]
python send.py
# [docs:send:end]

# [docs:counts]
docker exec rabbitmq rabbitmqctl list_queues --quiet \
  name messages_ready messages_unacknowledged \
  | grep -E '^jobs(\.DQ|\.XQ)?\s' | sort
# [docs:counts:end]

# [docs:counts-local]
sudo rabbitmqctl list_queues --quiet \
  name messages_ready messages_unacknowledged \
  | grep -E '^jobs(\.DQ|\.XQ)?\s' | sort
# [docs:counts-local:end]
