"""Wiring the search index to the app: one backend per process, drained after each commit."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from content_library.models import IndexChange
from content_library.services.index_feed import DatabaseFeed
from search_index import create_backend
from search_index.base import IndexBusy
from search_index.sync import drain

from .extensions import db

log = logging.getLogger("portal.index")


def backend(app: Flask | None = None):
    app = app or current_app._get_current_object()
    found = app.extensions.get("search")
    if found is None:
        options = {"writer_timeout": float(app.config["SEARCH_WRITER_TIMEOUT"])}
        if app.config["SEARCH_BACKEND"] == "whoosh":
            options["index_dir"] = Path(app.config["INDEX_DIR"])
        elif app.config["SEARCH_BACKEND"] == "postgres":
            options["dsn"] = postgres_dsn(app)
        found = app.extensions["search"] = create_backend(app.config["SEARCH_BACKEND"], **options)
    return found


def postgres_dsn(app: Flask) -> str:
    """The app's own database as a libpq connection string (the postgres search backend
    lives in it), e.g. postgresql+psycopg://u@h/db -> postgresql://u@h/db."""
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() != "postgresql":
        raise RuntimeError("the postgres search backend needs a PostgreSQL database "
                           "(PORTAL_DATABASE_URL=postgresql+psycopg://...)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


RETRY_SECONDS = 0.5


def drain_pending(app: Flask, *, retries: int = 3) -> int:
    """Apply pending index changes with a session of their own. Never fails a request:
    anything not applied stays pending, and is retried shortly in the background while
    another process holds the index's writer lock."""
    factory = db.session_factory(app)
    session = factory()
    try:
        return drain(backend(app), DatabaseFeed(session))
    except IndexBusy:
        log.warning("search index busy: changes left pending")
        if retries > 0:
            timer = threading.Timer(RETRY_SECONDS, drain_pending, args=(app,),
                                    kwargs={"retries": retries - 1})
            timer.daemon = True
            timer.start()
    except SQLAlchemyError:
        log.exception("could not read the index change log")
    finally:
        session.close()
    return 0


def init_app(app: Flask) -> None:
    if app.config["SEARCH_BACKEND"] == "postgres":
        postgres_dsn(app)  # a wrong database fails now, not at the first search
    factory = db.session_factory(app)

    @event.listens_for(factory, "after_flush")
    def _note_changes(session: Session, _context):
        if any(isinstance(obj, IndexChange) for obj in session.new):
            session.info["index_dirty"] = True

    @event.listens_for(factory, "after_commit")
    def _apply_changes(session: Session):
        if session.info.pop("index_dirty", False):
            drain_pending(app)

    @event.listens_for(factory, "after_rollback")
    def _forget(session: Session):
        session.info.pop("index_dirty", None)

    state = {"drained": False}

    @app.before_request
    def _catch_up_once():
        # Changes left pending by a crash are applied by the first request of each process.
        if not state["drained"]:
            state["drained"] = True
            drain_pending(app)
