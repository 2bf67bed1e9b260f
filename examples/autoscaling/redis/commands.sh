# Terminal commands from the guide, in the order it runs them.
# Run them from this folder, on the host each section names; worker.yaml
# and scaledobject.yaml say how to hand the rest to Kubernetes.

# [docs:install]
python -m venv .venv
. .venv/bin/activate
python -m pip install -r requirements.txt
# [docs:install:end]

# [docs:activate]
. .venv/bin/activate
# [docs:activate:end]

# [docs:broker-host]
# On Debian or Ubuntu: the package runs Redis as a service.
sudo apt-get install redis-server
# Add these settings and the password at the end of the package's
# settings file, which only root and the redis user can read.
sudo tee -a /etc/redis/redis.conf < redis.conf > /dev/null
printf 'requirepass "%s"\n' "${REDIS_PASSWORD:?}" |
  sudo tee -a /etc/redis/redis.conf > /dev/null
sudo service redis-server restart
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
dramatiq tasks --processes 1 --threads 8 --worker-shutdown-timeout 25000
# [docs:worker-host:end]

# [docs:live]
python health.py
# [docs:live:end]

# [docs:metric]
# Messages in the queue not yet acknowledged (ready, prefetched or running),
# those in the delay queue, and the queue's ready ones alone. REDISCLI_AUTH
# keeps the password out of the process list.
export REDISCLI_AUTH="${REDIS_PASSWORD:?}"
redis-cli -h 198.51.100.10 hlen dramatiq:autoscaling.msgs
redis-cli -h 198.51.100.10 hlen dramatiq:autoscaling.DQ.msgs
redis-cli -h 198.51.100.10 llen dramatiq:autoscaling
# [docs:metric:end]

# [docs:request]
curl --include --data url=https://example.com/ \
  http://198.51.100.30:8000/imports
# [docs:request:end]

# [docs:status]
curl http://198.51.100.30:8000/imports/3f2b8a1e-6c1d-4e6b-9a4f-0d2c5e7b9a10
# [docs:status:end]
