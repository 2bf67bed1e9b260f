"""The application factory. ``flask --app myapp run`` finds create_app() here."""

from collections.abc import Mapping
from typing import Any

from flask import Flask

from myapp.views import bp


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    # Defaults first; then FLASK_* variables, so FLASK_SITE_NAME sets SITE_NAME.
    # MAX_CONTENT_LENGTH refuses request bodies over 16 KiB with 413.
    app.config.from_mapping(SITE_NAME="My site", MAX_CONTENT_LENGTH=16 * 1024)
    app.config.from_prefixed_env()
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.register_blueprint(bp)
    return app
