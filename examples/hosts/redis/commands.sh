# Terminal commands from the guide, in the order it runs them.
# Run them from this folder, on the host each section names.

# [docs:install]
python -m venv .venv
. .venv/bin/activate
python -m pip install -r requirements.txt
# [docs:install:end]

# [docs:activate]
. .venv/bin/activate
# [docs:activate:end]

# [docs:broker-host]
mkdir -p ~/redis-data
# The password goes in through standard input (-): unlike an
# option, it never shows in the process list.
printf 'requirepass "%s"\n' "$REDIS_PASSWORD" |
  redis-server redis.conf --dir ~/redis-data -
# [docs:broker-host:end]

# [docs:environment]
# Where the broker and the database are. Your secrets
# store sets REDIS_PASSWORD and PGPASSWORD.
export REDIS_URL="redis://:${REDIS_PASSWORD}@198.51.100.10:6379/0"
export DATABASE_URL="postgresql://flask_app@198.51.100.20:5432/app"
# [docs:environment:end]

# [docs:create-tables]
python database.py
# [docs:create-tables:end]

# [docs:web-host]
gunicorn --workers 2 --bind 198.51.100.30:8000 app:app
# [docs:web-host:end]

# [docs:worker-host]
dramatiq tasks
# [docs:worker-host:end]

# [docs:request]
curl --include --data url=https://example.com/ \
  http://198.51.100.30:8000/imports
# [docs:request:end]

# [docs:status]
curl http://198.51.100.30:8000/imports/3f2b8a1e-6c1d-4e6b-9a4f-0d2c5e7b9a10
# [docs:status:end]
