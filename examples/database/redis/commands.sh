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

# [docs:database]
# Where PostgreSQL is. Your secrets store sets PGPASSWORD, if it needs one.
export DATABASE_URL="postgresql://postgres@127.0.0.1:5432/postgres"
# [docs:database:end]

# [docs:create-tables]
flask --app myapp create-tables
# [docs:create-tables:end]

# [docs:request]
curl --data name=Ada http://127.0.0.1:5000/users
# [docs:request:end]

# [docs:status]
curl http://127.0.0.1:5000/users/1
# [docs:status:end]
