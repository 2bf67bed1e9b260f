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
docker exec redis redis-cli llen dramatiq:jobs
docker exec redis redis-cli hlen dramatiq:jobs.msgs
docker exec redis redis-cli hlen dramatiq:jobs.DQ.msgs
docker exec redis redis-cli zcard dramatiq:jobs.XQ
# [docs:counts:end]

# [docs:counts-local]
redis-cli llen dramatiq:jobs
redis-cli hlen dramatiq:jobs.msgs
redis-cli hlen dramatiq:jobs.DQ.msgs
redis-cli zcard dramatiq:jobs.XQ
# [docs:counts-local:end]
