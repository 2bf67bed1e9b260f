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
curl --data url=http://127.0.0.1:9/feed.xml http://127.0.0.1:5000/feeds
# [docs:request:end]

# [docs:json]
export LOG_FORMAT=json
# [docs:json:end]
