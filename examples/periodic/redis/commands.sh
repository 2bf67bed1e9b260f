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

# [docs:create-tables]
# This command, the scheduler and the worker connect to DATABASE_URL, by
# default postgresql://postgres@127.0.0.1:5432/postgres.
python database.py
# [docs:create-tables:end]

# [docs:upcoming]
SCHEDULE_TIME_ZONE=Europe/Berlin \
  python scheduler.py --upcoming 3 --after 2027-03-28T00:00
# [docs:upcoming:end]

# [docs:upcoming-autumn]
SCHEDULE_TIME_ZONE=Europe/Berlin \
  python scheduler.py --upcoming 4 --after 2027-10-31T00:00
# [docs:upcoming-autumn:end]

# [docs:ticks]
psql "${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}" \
  --command 'SELECT job, tick, sent_by FROM ticks ORDER BY tick DESC LIMIT 5'
# [docs:ticks:end]

# [docs:systemd]
# This example in place of the app of "Run it as a service": same user,
# folder, virtualenv and secrets file. It replaces that app's tasks.py.
sudo cp *.py requirements.txt /opt/flask-app/
sudo /opt/flask-app/.venv/bin/python -m pip install -r /opt/flask-app/requirements.txt
# Add DATABASE_URL (and SCHEDULE_TIME_ZONE, if not UTC), as in worker.env.example.
sudoedit /etc/flask-app/worker.env
# Create the tables, as the service's user, with the service's secrets.
sudo systemd-run --wait --pipe --uid=flask-app --working-directory=/opt/flask-app \
  --property=EnvironmentFile=/etc/flask-app/worker.env \
  /opt/flask-app/.venv/bin/python database.py
# The scheduler's service, started now and at every boot; restart the worker.
sudo cp flask-app-scheduler.service /etc/systemd/system/
sudo systemctl daemon-reload
sudo systemctl enable --now flask-app-scheduler
sudo systemctl restart flask-app-worker
journalctl --unit flask-app-scheduler --follow
# [docs:systemd:end]
