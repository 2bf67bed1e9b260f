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

# [docs:every-node]
# On rabbit-1, rabbit-2 and rabbit-3, Debian or Ubuntu.
sudo mkdir -p /etc/rabbitmq
sudo cp rabbitmq.conf /etc/rabbitmq/
echo "listeners.tcp.1 = ${NODE_ADDRESS:?}:5672" |
  sudo tee -a /etc/rabbitmq/rabbitmq.conf > /dev/null
sudo apt-get install rabbitmq-server
# The nodes' shared secret: the same Erlang cookie on all three.
sudo service rabbitmq-server stop
printf '%s' "${ERLANG_COOKIE:?}" |
  sudo tee /var/lib/rabbitmq/.erlang.cookie > /dev/null
sudo chown rabbitmq: /var/lib/rabbitmq/.erlang.cookie
sudo chmod 400 /var/lib/rabbitmq/.erlang.cookie
sudo service rabbitmq-server start
sudo rabbitmqctl await_startup
# [docs:every-node:end]

# [docs:join]
# On rabbit-2 and rabbit-3: leave their own cluster of one node,
# with what it holds, and join rabbit-1's.
sudo rabbitmqctl stop_app
sudo rabbitmqctl reset
sudo rabbitmqctl join_cluster rabbit@rabbit-1
sudo rabbitmqctl start_app
# [docs:join:end]

# [docs:user]
# On any one node: users belong to the whole cluster.
printf '%s' "${RABBITMQ_PASSWORD:?}" | sudo rabbitmqctl add_user flask-app
sudo rabbitmqctl set_permissions flask-app '.*' '.*' '.*'
# [docs:user:end]

# [docs:environment]
# Every node, separated by ";", then the database. Your secrets
# store sets RABBITMQ_PASSWORD and PGPASSWORD.
export RABBITMQ_URL="amqp://flask-app:${RABBITMQ_PASSWORD}@198.51.100.11:5672"
RABBITMQ_URL="$RABBITMQ_URL;amqp://flask-app:${RABBITMQ_PASSWORD}@198.51.100.12:5672"
RABBITMQ_URL="$RABBITMQ_URL;amqp://flask-app:${RABBITMQ_PASSWORD}@198.51.100.13:5672"
export DATABASE_URL="postgresql://flask_app@198.51.100.20:5432/app"
# [docs:environment:end]

# [docs:queues]
sudo rabbitmqctl list_queues name type leader members
# [docs:queues:end]

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
