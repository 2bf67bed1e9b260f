"""BROKEN under gunicorn --preload: the app sends a message while it is imported."""

from app import app
from tasks import add

# A task queued when the app starts. With --preload, gunicorn imports this
# module once, in its main process, before it forks the processes that serve
# requests: the connection this opens is shared by all of them.
add.send(0, 0)

# gunicorn serves startup_send:app, the app imported above.
__all__ = ["app"]
