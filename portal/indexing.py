"""Wiring the search index to the app: one backend per process, drained after each commit."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import delete, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from content_library.database import is_busy
from content_library.errors import Conflict
from content_library.models import ContentItem, IndexChange
from content_library.progress import Progress, quiet
from content_library.services.index_feed import DatabaseFeed, records_for
from search_index import create_backend
from search_index.base import IndexBusy
from search_index.sync import drain, rebuild, refresh

from .extensions import db
from .health import is_probe

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


class _Counted:
    """A feed whose `everything()` tells progress how many items it has handed over."""

    def __init__(self, feed: DatabaseFeed, progress: Progress, total: int) -> None:
        self._feed, self._progress, self._total = feed, progress, total

    def __getattr__(self, name: str):
        return getattr(self._feed, name)

    def everything(self):
        for done, record in enumerate(self._feed.everything(), 1):
            yield record
            self._progress(INDEXING, done, self._total)


INDEXING = "indexing items"


def rebuild_index(app: Flask, progress: Progress = quiet) -> int:
    """Rebuild the whole search index from the database (`index rebuild`, `restore`)."""
    session = db.session_factory(app)()
    try:
        total = session.scalar(select(func.count()).select_from(ContentItem)) or 0
        return rebuild(backend(app), _Counted(DatabaseFeed(session), progress, total))
    finally:
        session.close()


def postgres_dsn(app: Flask) -> str:
    """The app's own database as a libpq connection string (the postgres search backend
    lives in it), e.g. postgresql+psycopg://u@h/db -> postgresql://u@h/db."""
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() != "postgresql":
        raise RuntimeError("the postgres search backend needs a PostgreSQL database "
                           "(PORTAL_DATABASE_URL=postgresql+psycopg://...)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


RETRY_SECONDS = 0.5
#: Change records that hide an item from someone: the index hides it before the commit.
HIDING = ("narrow", "delete")


def _in_own_session(app: Flask, work, retries: int, retry) -> int:
    """``work(feed)`` with a session of its own. Never fails a request: anything not
    applied stays pending, and is retried shortly in the background while another
    process holds the index's writer lock."""
    session = db.session_factory(app)()
    try:
        return work(DatabaseFeed(session)) or 0
    except IndexBusy:
        log.warning("search index busy: changes left pending")
        if retries > 0:
            timer = threading.Timer(RETRY_SECONDS, retry, args=(retries - 1,))
            timer.daemon = True
            timer.start()
    except OperationalError as exc:
        if not is_busy(exc):
            log.exception("could not read the index change log")
        else:  # expected with several writers: the changes stay pending for the next drain
            log.warning("database busy: index changes left pending")
    except SQLAlchemyError:
        log.exception("could not read the index change log")
    finally:
        session.close()
    return 0


def drain_pending(app: Flask, *, retries: int = 3) -> int:
    """Apply pending index changes (see `_in_own_session`)."""
    return _in_own_session(app, lambda feed: drain(backend(app), feed), retries,
                           lambda left: drain_pending(app, retries=left))


def refresh_items(app: Flask, slugs, *, retries: int = 3) -> bool:
    """Bring these items in the index to what the database holds now; False when the
    index was busy (then it is retried in the background)."""
    slugs = list(slugs)
    done = _in_own_session(app, lambda feed: refresh(backend(app), feed, slugs), retries,
                           lambda left: refresh_items(app, slugs, retries=left))
    return done == len(slugs)


def _hide_before_commit(app: Flask, session: Session) -> None:
    """A change that hides an item from someone must not leave it findable for a single
    request after the commit. So the index gets the item's new state before the commit,
    and keeps its writer lock until the commit ends (no drain can put the old state back
    meanwhile); the change records it satisfies go in the same transaction. If the commit
    fails, the items are refreshed from the database: meanwhile search errs toward hiding."""
    session.flush()
    changes = session.info.get("index_changes", ())
    hiding = sorted({slug for _, slug, op in changes if op in HIDING})
    if not hiding or "index_release" in session.info:
        return
    done = [change_id for change_id, slug, _ in changes if slug in hiding]
    session.execute(delete(IndexChange).where(IndexChange.id.in_(done)))
    records = records_for(session, hiding)
    try:
        release = backend(app).hide(records.values(), [s for s in hiding if s not in records],
                                    connection=_driver_connection(session))
    except IndexBusy:
        raise Conflict("The search index is busy (being rebuilt?), so nothing was changed. "
                       "Try again in a minute.") from None
    session.info["index_release"] = release
    session.info["index_hidden"] = hiding


def _driver_connection(session: Session):
    """The DB-API connection of the session's transaction (psycopg's, on PostgreSQL)."""
    return session.connection().connection.driver_connection


def init_app(app: Flask) -> None:
    if app.config["SEARCH_BACKEND"] == "postgres":
        postgres_dsn(app)  # a wrong database fails now, not at the first search
    factory = db.session_factory(app)

    @event.listens_for(factory, "after_flush")
    def _note_changes(session: Session, _context):
        for obj in session.new:
            if isinstance(obj, IndexChange):
                session.info["index_dirty"] = True
                session.info.setdefault("index_changes", []).append((obj.id, obj.slug, obj.op))

    @event.listens_for(factory, "before_commit")
    def _hide(session: Session):
        _hide_before_commit(app, session)

    @event.listens_for(factory, "after_commit")
    def _apply_changes(session: Session):
        release = session.info.pop("index_release", None)
        session.info.pop("index_changes", None)
        session.info.pop("index_hidden", None)
        if release is not None:
            release()
        if session.info.pop("index_dirty", False):
            drain_pending(app)

    @event.listens_for(factory, "after_transaction_end")
    def _forget(session: Session, transaction):
        if transaction.parent is not None:
            return
        # Not committed (a commit pops these first): give back the lock, put back what
        # was hidden for a change that never happened.
        session.info.pop("index_dirty", None)
        session.info.pop("index_changes", None)
        hidden = session.info.pop("index_hidden", None)
        release = session.info.pop("index_release", None)
        if release is not None:
            release()
            refresh_items(app, hidden or ())

    state = {"drained": False}

    @app.before_request
    def _catch_up_once():
        # Changes left pending by a crash are applied by the first request of each process
        # (a load balancer's probe does not count: it must answer at once).
        if not state["drained"] and not is_probe():
            state["drained"] = True
            drain_pending(app)
