# Terminal commands from the guide, in the order it runs them.
# Run them from this folder, the one that holds the myapp package.

# [docs:install]
python -m venv .venv
. .venv/bin/activate
python -m pip install -r requirements.txt
# [docs:install:end]

# [docs:activate]
. .venv/bin/activate
# [docs:activate:end]

# [docs:config]
export FLASK_SITE_NAME="Dramatiq Shop"
# [docs:config:end]

# [docs:request]
curl --data username=Ada http://127.0.0.1:5000/welcome
# [docs:request:end]
