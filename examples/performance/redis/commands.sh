# Terminal commands from the guide, in the order it runs them.
# Run them from this folder.

# [docs:install]
python -m venv .venv
. .venv/bin/activate
python -m pip install -r requirements.txt
# [docs:install:end]

# [docs:request]
curl --data to=ada@example.com http://127.0.0.1:8000/welcome
# [docs:request:end]

# [docs:bench]
# From the root of the guide's repository, not from this folder:
nox -s bench
# [docs:bench:end]
