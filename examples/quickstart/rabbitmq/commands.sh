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

# [docs:start-broker]
docker run --detach --name rabbitmq \
  --publish 127.0.0.1:5672:5672 rabbitmq:4
# [docs:start-broker:end]

# [docs:start-broker-local]
# Without Docker, on Debian or Ubuntu:
# the package runs RabbitMQ as a service.
# Put rabbitmq.conf in place first, then
# install, then restart it in case it was
# installed already.
sudo mkdir -p /etc/rabbitmq
sudo cp rabbitmq.conf /etc/rabbitmq/
sudo apt-get install rabbitmq-server
sudo service rabbitmq-server restart
sudo rabbitmqctl await_startup
# [docs:start-broker-local:end]

# [docs:worker]
dramatiq tasks
# [docs:worker:end]

# [docs:web]
flask --app app run --without-threads
# [docs:web:end]

# [docs:request]
curl --data x=1 --data y=2 \
  http://127.0.0.1:5000/add
# [docs:request:end]
