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

# [docs:smtp-server]
python -m pip install aiosmtpd
python -m aiosmtpd --nosetuid --listen 127.0.0.1:8025
# [docs:smtp-server:end]

# [docs:request]
curl --data to=ada@example.com http://127.0.0.1:5000/welcome
# [docs:request:end]

# [docs:dead-letters]
docker exec redis redis-cli zcard dramatiq:email.XQ
# [docs:dead-letters:end]

# [docs:dead-letters-local]
redis-cli zcard dramatiq:email.XQ
# [docs:dead-letters-local:end]
