"""A Dramatiq middleware that runs each message inside a Flask app context."""

import threading
from typing import Any

import dramatiq
from flask import Flask
from flask.ctx import AppContext


class AppContextMiddleware(dramatiq.Middleware):
    """Push a fresh app context before each message; pop it after."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        # A worker process runs several threads, each one message at a time.
        # One slot per thread: a thread only ever pops the context it pushed.
        self.local = threading.local()

    def before_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.MessageProxy
    ) -> None:
        context = self.app.app_context()
        context.push()
        self.local.context = context

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self.pop_context(exception)

    def after_skip_message(
        self, broker: dramatiq.Broker, message: dramatiq.MessageProxy
    ) -> None:
        self.pop_context(None)

    def pop_context(self, exception: BaseException | None) -> None:
        # Dramatiq also calls after_skip_message when an earlier middleware
        # skipped the message before this one pushed anything.
        context: AppContext | None = getattr(self.local, "context", None)
        if context is None:
            return
        self.local.context = None
        # Teardown functions (app.teardown_appcontext) see the actor's error.
        context.pop(exception)
