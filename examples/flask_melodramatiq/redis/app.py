"""Flask-Melodramatiq's quickstart, with the quickstart's actor."""

import os

import dramatiq
from flask import Flask
from flask_melodramatiq import RedisBroker

app = Flask(__name__)
app.config["DRAMATIQ_BROKER_URL"] = os.environ.get(
    "REDIS_URL", "redis://127.0.0.1:6379/0"
)
# A lazy broker: it reads its settings from app.config in init_app(), or
# here when it is given the app.
broker = RedisBroker(app)
dramatiq.set_broker(broker)


@dramatiq.actor
def add(x: int, y: int) -> None:
    print(f"The sum of {x} and {y} is {x + y}.")
