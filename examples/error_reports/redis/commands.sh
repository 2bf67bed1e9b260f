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

# [docs:dsn]
# Your project's DSN, from its settings in Sentry (Client Keys). On a
# server, put it in the worker's secrets file instead.
export SENTRY_DSN='https://<key>@<organization>.ingest.sentry.io/<project>'
# [docs:dsn:end]

# [docs:send]
# Nothing listens on port 9: every attempt of this import fails.
python send.py http://127.0.0.1:9/feed.xml
# [docs:send:end]
