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
# passwords included: each host writes its copy once, for its owner
# only, with its own address, and never copies over it again.
sudo apt-get install redis-server
mkdir -p ~/redis-data
(umask 077 && cat redis.conf - > ~/redis.conf) <<EOF
bind ${NODE_ADDRESS:?}
dir $HOME/redis-data
logfile $HOME/redis-data/redis.log
requirepass "${REDIS_PASSWORD:?}"
masterauth "$REDIS_PASSWORD"
EOF
redis-server ~/redis.conf
# [docs:primary:end]

# [docs:replica]
# On redis-2: the same, as a replica of redis-1.
sudo apt-get install redis-server
mkdir -p ~/redis-data
(umask 077 && cat redis.conf - > ~/redis.conf) <<EOF
bind ${NODE_ADDRESS:?}
dir $HOME/redis-data
logfile $HOME/redis-data/redis.log
requirepass "${REDIS_PASSWORD:?}"
masterauth "$REDIS_PASSWORD"
replicaof 198.51.100.11 6379
EOF
redis-server ~/redis.conf
# [docs:replica:end]

# [docs:sentinel]
# On each of redis-1, redis-2 and redis-3. Sentinel, too, writes
# what it learns into its settings file: a copy of its own.
(umask 077 && cat sentinel.conf - > ~/sentinel.conf) <<EOF
bind ${NODE_ADDRESS:?}
logfile $HOME/sentinel.log
sentinel auth-pass dramatiq "${REDIS_PASSWORD:?}"
requirepass "$REDIS_PASSWORD"
EOF
redis-server ~/sentinel.conf --sentinel
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
