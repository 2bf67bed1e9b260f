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

# [docs:request]
curl --data account_id=42 http://127.0.0.1:5000/exports
# [docs:request:end]

# [docs:too-large]
head -c 20000 /dev/zero | curl --data-binary @- http://127.0.0.1:5000/exports
# [docs:too-large:end]
