"""The worker's entry module: ``dramatiq myapp.worker``."""

# The worker runs only the actors it has seen declared: import every module
# that declares some, even those no view imports.
import myapp.tasks  # noqa: F401
from myapp import create_app
from myapp.broker import broker
from myapp.middleware import AppContextMiddleware

# The same factory as the web process, so actors see the same config and
# the same database.
app = create_app()
# Only the worker adds the middleware: the web process sends, it runs no actor.
broker.add_middleware(AppContextMiddleware(app))
