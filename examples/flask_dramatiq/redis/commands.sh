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

# [docs:worker]
env dramatiq_worker_timeout=40 \
  flask --app app worker
# [docs:worker:end]

# [docs:worker-dramatiq]
env dramatiq_worker_timeout=40 \
  dramatiq app:broker
# [docs:worker-dramatiq:end]

# [docs:web]
flask --app app run --without-threads
# [docs:web:end]

# [docs:request]
curl --data x=1 --data y=2 \
  http://127.0.0.1:5000/add
# [docs:request:end]
