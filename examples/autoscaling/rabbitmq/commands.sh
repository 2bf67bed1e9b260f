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
# On Debian or Ubuntu: the package runs RabbitMQ as a service.
sudo mkdir -p /etc/rabbitmq
sudo cp rabbitmq.conf /etc/rabbitmq/
sudo apt-get install rabbitmq-server
sudo service rabbitmq-server restart
sudo rabbitmqctl await_startup
# The user of the app and the workers. rabbitmqctl reads the
# password from standard input: it never shows in the process list.
printf '%s' "${RABBITMQ_PASSWORD:?}" | sudo rabbitmqctl add_user flask-app
sudo rabbitmqctl set_permissions flask-app '.*' '.*' '.*'
# [docs:broker-host:end]

# [docs:management]
# On the broker host: this folder's rabbitmq.conf keeps the management API
# on the private address; RabbitMQ reads it when it starts.
sudo cp rabbitmq.conf /etc/rabbitmq/
sudo rabbitmq-plugins enable rabbitmq_management
sudo service rabbitmq-server restart
sudo rabbitmqctl await_startup
# KEDA's user: it may read the queues' counts, and change nothing.
printf '%s' "${KEDA_PASSWORD:?}" | sudo rabbitmqctl add_user keda
sudo rabbitmqctl set_user_tags keda management
sudo rabbitmqctl set_permissions keda '^$' '^$' '^$'
# [docs:management:end]

# [docs:environment]
# Where the broker and the database are. Your secrets
# store sets RABBITMQ_PASSWORD and PGPASSWORD.
export RABBITMQ_URL="amqp://flask-app:${RABBITMQ_PASSWORD}@198.51.100.10:5672"
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
# On the broker host: what each queue holds, ready and not yet acknowledged.
# KEDA reads the last column, messages, from the management API.
sudo rabbitmqctl list_queues --quiet \
  name messages_ready messages_unacknowledged messages
# [docs:metric:end]

# [docs:request]
curl --include --data url=https://example.com/ \
  http://198.51.100.30:8000/imports
# [docs:request:end]

# [docs:status]
curl http://198.51.100.30:8000/imports/3f2b8a1e-6c1d-4e6b-9a4f-0d2c5e7b9a10
# [docs:status:end]
