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
docker run --detach --name redis --publish 127.0.0.1:6379:6379 redis:7
# [docs:start-broker:end]

# [docs:start-broker-local]
# Without Docker: your system's redis-server, on this machine only.
mkdir -p ~/redis-data
redis-server --bind 127.0.0.1 --dir ~/redis-data --daemonize yes
# [docs:start-broker-local:end]

# [docs:request]
curl --include --data pages=10 http://127.0.0.1:5000/reports
# [docs:request:end]

# [docs:status]
curl http://127.0.0.1:5000/tasks/9c690044-979b-4c44-aa65-ac4bead45c53
# [docs:status:end]

# [docs:cancel]
curl --request POST \
  http://127.0.0.1:5000/tasks/9c690044-979b-4c44-aa65-ac4bead45c53/cancel
# [docs:cancel:end]
