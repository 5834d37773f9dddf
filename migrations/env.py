"""Alembic environment: always runs as the schema owner.

``orgpulse db upgrade`` passes an open owner connection in ``config.attributes["connection"]`` and
the app role's name and password in ``config.attributes``; run standalone, the settings decide.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from orgpulse.core.config import app_db_password, get_settings
from orgpulse.core.db import owner_engine

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    settings = get_settings()
    config.attributes.setdefault("app_role", settings.app_db_role)
    config.attributes.setdefault("app_password", app_db_password(settings))
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with owner_engine(settings).connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: RLS and roles need a live server")
run_migrations_online()
