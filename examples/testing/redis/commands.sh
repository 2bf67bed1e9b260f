# Terminal commands from the guide, in the order it runs them.
# Run them from this folder.

# [docs:install]
python -m venv .venv
. .venv/bin/activate
python -m pip install -r requirements.txt
# [docs:install:end]

# [docs:demo]
UNIT_TESTS=1 python join_demo.py
# [docs:demo:end]

# [docs:unit]
pytest
# [docs:unit:end]

# [docs:integration]
pytest -m integration
# [docs:integration:end]
