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

# [docs:primary]
# On redis-1. Redis rewrites its settings file at a failover, the
# passwords included: each host runs a copy of its own, yours to
# read only. The passwords go in through standard input (-):
# requirepass for clients, masterauth for a replica's connection
# to the primary, since either server may become the primary.
mkdir -p ~/redis-data
install -m 600 redis.conf ~/redis.conf
printf 'requirepass "%s"\nmasterauth "%s"\n' \
  "${REDIS_PASSWORD:?}" "$REDIS_PASSWORD" |
  redis-server ~/redis.conf --bind "$NODE_ADDRESS" \
    --dir ~/redis-data -
# [docs:primary:end]

# [docs:replica]
# On redis-2: the same, as a replica of redis-1.
mkdir -p ~/redis-data
install -m 600 redis.conf ~/redis.conf
printf 'requirepass "%s"\nmasterauth "%s"\n' \
  "${REDIS_PASSWORD:?}" "$REDIS_PASSWORD" |
  redis-server ~/redis.conf --bind "$NODE_ADDRESS" \
    --dir ~/redis-data --replicaof 198.51.100.11 6379 -
# [docs:replica:end]

# [docs:sentinel]
# On each of redis-1, redis-2 and redis-3. Sentinel writes what
# it learns, the password too, into its copy: yours to read only.
install -m 600 sentinel.conf ~/sentinel.conf
printf 'sentinel auth-pass dramatiq "%s"\nrequirepass "%s"\n' \
  "${REDIS_PASSWORD:?}" "$REDIS_PASSWORD" |
  redis-server ~/sentinel.conf --sentinel --bind "$NODE_ADDRESS" -
# [docs:sentinel:end]

# [docs:environment]
# Where the Sentinels and the database are. Your secrets
# store sets REDIS_PASSWORD and PGPASSWORD.
export REDIS_SENTINELS="198.51.100.11:26379,198.51.100.12:26379,198.51.100.13:26379"
export DATABASE_URL="postgresql://flask_app@198.51.100.20:5432/app"
# [docs:environment:end]

# [docs:primary-now]
REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 198.51.100.13 -p 26379 \
  sentinel get-master-addr-by-name dramatiq
# [docs:primary-now:end]

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
