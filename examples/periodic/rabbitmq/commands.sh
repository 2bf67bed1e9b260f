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
SCHEDULE_TIME_ZONE=Europe/Berlin python scheduler.py --upcoming 3 --after 2027-03-28T00:00
# [docs:upcoming:end]

# [docs:upcoming-autumn]
SCHEDULE_TIME_ZONE=Europe/Berlin python scheduler.py --upcoming 4 --after 2027-10-31T00:00
# [docs:upcoming-autumn:end]

# [docs:ticks]
psql postgresql://postgres@127.0.0.1:5432/postgres \
  --command 'SELECT job, tick, sent_by FROM ticks ORDER BY tick DESC LIMIT 5'
# [docs:ticks:end]

# [docs:systemd]
# The user, folder and virtualenv of "Run it as a service", with this
# example's files.
sudo useradd --system --no-create-home --shell /usr/sbin/nologin flask-app
sudo install -d /opt/flask-app
sudo cp *.py requirements.txt /opt/flask-app/
sudo python3 -m venv /opt/flask-app/.venv
sudo /opt/flask-app/.venv/bin/python -m pip install -r /opt/flask-app/requirements.txt
# The secrets, readable by root alone.
sudo install -d -m 700 /etc/flask-app
sudo install -m 600 worker.env.example /etc/flask-app/worker.env
sudoedit /etc/flask-app/worker.env
# The service, started now and at every boot.
sudo cp flask-app-scheduler.service /etc/systemd/system/
sudo systemctl daemon-reload
sudo systemctl enable --now flask-app-scheduler
journalctl --unit flask-app-scheduler --follow
# [docs:systemd:end]
