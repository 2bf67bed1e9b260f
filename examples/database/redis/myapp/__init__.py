"""The application factory. ``flask --app myapp run`` finds create_app() here."""

import os
from collections.abc import Mapping
from typing import Any

import click
from flask import Flask
from sqlalchemy.engine import make_url

from myapp.models import db
from myapp.views import bp

# libpq's form of the URL, as psql and the other pages take it; psycopg 3 is
# the driver. Keep the password out of it: psycopg reads PGPASSWORD.
DATABASE_URL = make_url(
    os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
).set(drivername="postgresql+psycopg")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=DATABASE_URL,
        SQLALCHEMY_ENGINE_OPTIONS={
            # Bound each wait on a database that stops answering: 5 s to
            # connect, 10 s for any reply, 5 s for a lock and 10 s for a
            # statement on the server; 5 s for a free connection of the pool.
            # And 10 s for a client silent in a transaction, so that the
            # locks of a worker that vanished do not outlive it.
            "connect_args": {
                "connect_timeout": 5,
                "tcp_user_timeout": 10_000,
                "options": (
                    "-c lock_timeout=5s -c statement_timeout=10s"
                    " -c idle_in_transaction_session_timeout=10s"
                ),
            },
            "pool_timeout": 5,
            # Test each pooled connection before use: after a restart of
            # PostgreSQL, the pool holds only dead ones.
            "pool_pre_ping": True,
        },
        MAX_CONTENT_LENGTH=16 * 1024,
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    db.init_app(app)
    app.register_blueprint(bp)

    @app.cli.command("create-tables")
    def create_tables() -> None:
        """Create the tables that do not exist yet."""
        db.create_all()
        click.echo("The tables are ready.")

    return app
