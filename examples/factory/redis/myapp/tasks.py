"""The actors. They never import the app: they read it from current_app."""

import dramatiq
from flask import current_app

from myapp.broker import broker


# broker=broker ties the actor to the package's broker, whatever module was
# imported first. Without it, the actor takes the global broker of the moment.
@dramatiq.actor(broker=broker, queue_name="factory")
def welcome(username: str) -> None:
    # The worker pushed an app context for this message, so current_app is
    # the app that myapp.worker built, with its config.
    site_name = current_app.config["SITE_NAME"]
    # !r escapes line breaks and terminal escapes: a message that did not
    # come through the view cannot forge log lines either.
    print(f"Welcome to {site_name}, {username!r}!")
