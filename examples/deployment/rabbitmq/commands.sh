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
curl --data x=1 --data y=2 http://127.0.0.1:8000/add
# [docs:request:end]

# [docs:compose-up]
cp .env.example .env
# Fill in the password in .env, then:
docker compose up --build --wait
docker compose logs --follow worker
# [docs:compose-up:end]

# [docs:compose-stop]
docker compose stop worker
# [docs:compose-stop:end]

# [docs:systemd]
# The app's code and virtualenv, owned by root, run by a user of its own.
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
sudo cp flask-app-worker.service /etc/systemd/system/
sudo systemctl daemon-reload
sudo systemctl enable --now flask-app-worker
journalctl --unit flask-app-worker --follow
# [docs:systemd:end]
