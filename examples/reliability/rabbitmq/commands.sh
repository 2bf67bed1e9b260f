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
# Replace the container of the install page: its name is taken, and it
# keeps its data inside itself, where the next container cannot find it.
docker rm --force rabbitmq
# A fixed host name and a volume: RabbitMQ keeps its data in a folder named
# after the host, so a new container finds the queues of the old one.
docker run --detach --name rabbitmq --hostname rabbitmq \
  --publish 127.0.0.1:5672:5672 \
  --volume rabbitmq-data:/var/lib/rabbitmq rabbitmq:4
# [docs:start-broker:end]

# [docs:start-broker-local]
# Without Docker, on Debian or Ubuntu: the service of the install page, which
# keeps its data on your disk already.
sudo service rabbitmq-server start
sudo rabbitmqctl await_startup
# [docs:start-broker-local:end]

# [docs:start-database]
# PostgreSQL 15 with its data in a volume, published on 127.0.0.1 only:
# trust lets local connections in without a password. On any other address,
# set a password and put it in DATABASE_URL.
docker run --detach --name postgres --publish 127.0.0.1:5432:5432 \
  --env POSTGRES_HOST_AUTH_METHOD=trust \
  --volume postgres-data:/var/lib/postgresql/data postgres:15
# [docs:start-database:end]

# [docs:start-database-locally]
# Without Docker: a database cluster of your own in ./pgdata. Put PostgreSQL's
# programs on your PATH first (Debian: /usr/lib/postgresql/<version>/bin). If
# your system's PostgreSQL already listens on 5432, stop it first.
initdb --pgdata=pgdata --username=postgres --auth=trust
pg_ctl --pgdata=pgdata --log=pgdata/server.log --wait \
  --options="-c listen_addresses=127.0.0.1 -c unix_socket_directories=" start
# [docs:start-database-locally:end]

# [docs:create-tables]
# This command, the app and the worker connect to DATABASE_URL, by default
# postgresql://postgres@127.0.0.1:5432/postgres: the database above.
python database.py
# [docs:create-tables:end]

# [docs:request]
mkdir -p uploads
printf 'sku,quantity\nA-1,3\n' > uploads/orders.csv
curl --header 'Idempotency-Key: 5b7e0c2a' --data name=orders.csv \
  http://127.0.0.1:8000/imports
# [docs:request:end]

# [docs:reuse-key]
curl --header 'Idempotency-Key: 5b7e0c2a' --data name=prices.csv \
  http://127.0.0.1:8000/imports
# [docs:reuse-key:end]

# [docs:list-dead]
python dead_letters.py list reliability
# [docs:list-dead:end]

# [docs:replay]
python dead_letters.py replay reliability
# [docs:replay:end]
