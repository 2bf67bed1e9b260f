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

# [docs:live]
python health.py
# [docs:live:end]

# [docs:ready]
curl http://127.0.0.1:8000/health/ready
# [docs:ready:end]

# [docs:systemd]
# Over the service of 'Run it as a service': the new files, and the unit
# with its watchdog.
sudo cp *.py requirements.txt /opt/flask-app/
sudo /opt/flask-app/.venv/bin/python -m pip install -r /opt/flask-app/requirements.txt
sudo cp flask-app-worker.service /etc/systemd/system/
sudo systemctl daemon-reload
sudo systemctl restart flask-app-worker
# [docs:systemd:end]
