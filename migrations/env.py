"""Alembic environment: runs migrations on the portal's own engine and metadata."""

from __future__ import annotations

from alembic import context
from flask import current_app

from content_library.models import Base

config = context.config


def include_object(obj, name, type_, reflected, compare_to):
    """Leave alone tables the models do not describe (the PostgreSQL search backend keeps
    its own tables in the same database and manages them itself)."""
    return not (type_ == "table" and reflected and compare_to is None)


def run_offline() -> None:
    context.configure(url=current_app.config["DATABASE_URL"], target_metadata=Base.metadata,
                      literal_binds=True, render_as_batch=True, compare_type=True,
                      include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = current_app.extensions["portal_db"].get_engine()
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=True, compare_type=True,
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
