"""The database, through Flask-SQLAlchemy, and the one table of the example."""

from datetime import datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()

# What a query raises when PostgreSQL is down, does not answer in time, or a
# statement outlasts its timeout; and when the pool has no free connection.
DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, PoolTimeoutError)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(db.String(64))
    # Set by the welcome actor: NULL until the user is welcomed.
    welcomed_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
