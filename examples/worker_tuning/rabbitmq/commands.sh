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
curl --data seconds=2 http://127.0.0.1:5000/reports
# [docs:request:end]

# [docs:time-limit]
python -c 'from tasks import build_report; build_report.send_with_options(args=(5,), time_limit=1_000)'
# [docs:time-limit:end]

# [docs:stop]
kill -TERM 4100
# [docs:stop:end]

# [docs:force-stop]
kill -KILL -- -4100
# [docs:force-stop:end]
