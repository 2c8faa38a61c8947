"""Keeping search's usage boost current: usage changes with every page, the index does not.

`refresh_ranking` re-indexes only the items whose usage score moved to another step
(`content_library.services.usage_ranking`): one GROUP BY over recent events, the index's
fingerprints, and a write of the few records that moved. It runs from `portal setup`,
`portal index refresh-ranking`, and at most once a day per process, on a request.
"""

from __future__ import annotations

import logging
import time

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from content_library.services.index_feed import DatabaseFeed
from content_library.services.usage_ranking import moved_scores
from search_index.base import IndexBusy
from search_index.sync import refresh

from .extensions import db
from .health import is_probe
from .indexing import backend

log = logging.getLogger("portal.ranking")

REFRESH_EVERY_SECONDS = 24 * 3600
# At most this many items are re-indexed per refresh; the rest move at the next refresh (or by
# `index refresh-ranking`, which loops, and which the daily timer of docs/deploy.md runs).
REFRESH_BATCH = 500
# A request pays for its process's daily refresh: far fewer, so it holds the index's writer
# lock briefly (500 at once on a 10,000-item index held it for a minute under load, and every
# edit meanwhile waited out its timeout: bench/load.py).
REQUEST_BATCH = 50


def refresh_ranking(app: Flask, limit: int | None = REFRESH_BATCH) -> int:
    """Re-index the items whose usage score moved; returns how many. Raises IndexBusy."""
    session = db.session_factory(app)()
    try:
        search = backend(app)
        moved = moved_scores(session, search.fingerprints())
        if limit is not None:
            moved = moved[:limit]
        # read under the index's writer lock, like every writer: never an older state over a newer one
        return refresh(search, DatabaseFeed(session), moved)
    finally:
        session.close()


def init_app(app: Flask) -> None:
    state = {"due": 0.0}

    @app.before_request
    def _refresh_daily():
        # The first request of each process, then at most daily: usage fades by the week.
        now = time.monotonic()
        if now < state["due"] or is_probe():
            return
        state["due"] = now + REFRESH_EVERY_SECONDS
        try:
            refresh_ranking(app, limit=REQUEST_BATCH)
        except IndexBusy:
            log.warning("search index busy: usage ranking left for the next refresh")
        except SQLAlchemyError:
            log.exception("could not refresh the usage ranking")
