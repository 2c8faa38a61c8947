"""Usage recording for the pages: one recorder per app, fed after each page's own work."""

from __future__ import annotations

import logging

from flask import Flask, current_app, request

from content_library.models import ContentItem, Deal
from content_library.services import champions, usage

from ..access import user
from ..extensions import db

log = logging.getLogger("portal.usage")


def init_app(app: Flask) -> None:
    app.extensions["usage"] = usage.Recorder(app.config["DATABASE_URL"],
                                             app.config["USAGE_RETENTION_DAYS"])
    from .routes import bp

    app.register_blueprint(bp)


def recorder() -> usage.Recorder:
    return current_app.extensions["usage"]


def _store(*events: usage.Event) -> None:
    # The page's own read transaction ends first: on SQLite a reader still open keeps the
    # write-ahead log from starting over, and then every commit pays for a checkpoint
    # (10 ms and more on a busy disk, measured by bench/usage_recording.py).
    session = db.session
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        session.commit()
    recorder().record(*events)


def record(kind: str, item: ContentItem | None = None, *, stage: str | None = None,
           deal: Deal | None = None, also: usage.Event | None = None, **details) -> None:
    """Record what the signed-in person just did. Never raises: the page is already done.
    A champion's use of an item counts for the deal of the share that gave it to them."""
    try:
        if deal is None and item is not None:
            share = champions.granting_share(db.session, user(), item)
            deal = share.deal if share is not None else None
        first = usage.event(kind, item=item, user=user(), deal=deal, stage=stage, **details)
        _store(first, *([also] if also else []))
    except Exception:
        log.warning("usage event %s not recorded", kind, exc_info=True)


def record_events(*events: usage.Event) -> None:
    """Record events built elsewhere (a buyer's, through a share link). Never raises."""
    try:
        _store(*events)
    except Exception:
        log.warning("usage events not recorded", exc_info=True)


def record_search(found) -> None:
    """A search page or API answer (a SearchPage): its words, filters and result count,
    once per search (its first page)."""
    if found.page != 1:
        return
    try:
        event = usage.search_event(user(), found.text, found.filters, found.total)
        if event is not None:
            _store(event)
    except Exception:
        log.warning("search not recorded", exc_info=True)


def stage_context() -> str | None:
    """The stage the person was looking at, carried as ?stage=slug and checked against the
    taxonomy (anything else is ignored: the page shows the same either way)."""
    try:
        return usage.known_stage(db.session, request.args.get("stage"))
    except Exception:
        log.warning("stage context not read", exc_info=True)
        return None


def search_open(item: ContentItem, stage: str | None) -> usage.Event | None:
    """The result a search page's link opened, by its position: ?from=search&pos=N&q=words."""
    if request.args.get("from") != "search":
        return None
    position = request.args.get("pos", "")
    if not (position.isascii() and position.isdigit() and 0 < int(position) <= 10_000):
        return None
    words = " ".join(request.args.get("q", "").split())[:usage.MAX_QUERY]
    return usage.event("search_open", item=item, user=user(), stage=stage, query=words,
                       position=int(position))
