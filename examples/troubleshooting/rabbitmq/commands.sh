# Terminal commands from the troubleshooting page, problem by problem.
# Run them from this folder.

# [docs:install]
python -m venv .venv
. .venv/bin/activate
python -m pip install -r requirements.txt
# [docs:install:end]

# [docs:late-broker]
dramatiq late_broker
python -c 'from late_broker import add; add.send(1, 2)'
# [docs:late-broker:end]

# [docs:late-broker-check]
python -c 'from late_broker import add, broker; print(add.broker is broker)'
# [docs:late-broker-check:end]

# [docs:late-broker-send]
RABBITMQ_URL=amqp://rabbitmq.internal:5672 python -c 'from late_broker import add; add.send(1, 2)'
# [docs:late-broker-send:end]

# [docs:broker-check]
python -c 'from tasks import add, broker; print(add.broker is broker)'
# [docs:broker-check:end]

# [docs:watch]
dramatiq tasks --watch . --watch-include '**/*.py'
# [docs:watch:end]

# [docs:join]
pytest --log-cli-level=info test_join_hangs.py
# [docs:join:end]

# [docs:no-store-results]
dramatiq no_store_results
python -c 'from no_store_results import divide; divide.send(6, 3).get_result(block=True)'
# [docs:no-store-results:end]

# [docs:store-results]
python -c 'from tasks import divide; print(divide.send(6, 3).get_result(block=True))'
# [docs:store-results:end]

# [docs:retry]
python -c 'from tasks import add; add.send("1", 2)'
# [docs:retry:end]

# [docs:retry-schedule]
python retry_schedule.py
# [docs:retry-schedule:end]

# [docs:preload]
gunicorn --preload --workers 2 --bind 127.0.0.1:8000 startup_send:app
# [docs:preload:end]

# [docs:no-app-context]
dramatiq no_app_context
python -c 'from no_app_context import welcome; welcome.send("ada")'
# [docs:no-app-context:end]

# [docs:string-view]
gunicorn --workers 2 --bind 127.0.0.1:8000 string_view:app
curl --data x=1 --data y=2 http://127.0.0.1:8000/add
# [docs:string-view:end]

# [docs:consumer-timeout]
docker exec rabbitmq rabbitmqctl eval 'application:get_env(rabbit, consumer_timeout).'
# [docs:consumer-timeout:end]

# [docs:consumer-timeout-local]
sudo rabbitmqctl eval 'application:get_env(rabbit, consumer_timeout).'
# [docs:consumer-timeout-local:end]

# [docs:delay]
python -c 'from tasks import add; add.send_with_options(args=(1, 2), delay=3_600_000)'
docker exec rabbitmq rabbitmqctl list_queues name messages_ready messages_unacknowledged | grep troubleshooting
# [docs:delay:end]

# [docs:queues-local]
sudo rabbitmqctl list_queues name messages_ready messages_unacknowledged | grep troubleshooting
# [docs:queues-local:end]
