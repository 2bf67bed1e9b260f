"""BROKEN: the actor reads current_app, but nothing pushes an app context."""

import dramatiq
from flask import Flask, current_app

from broker import broker

app = Flask(__name__)
app.config["SITE_NAME"] = "Example"


@dramatiq.actor(broker=broker, queue_name="troubleshooting")
def welcome(username: str) -> None:
    print(f"Welcome to {current_app.config['SITE_NAME']}, {username}!")
