"""Stage rankings kept for a few seconds per process (`catalog.StageRankings`), and dropped
whenever this process commits a change of the library (an item, a tag: whatever the search
index is told of), so a manager sees their own change at once on the worker that saved it.
Other workers and hosts see it within PORTAL_STAGE_RANKING_SECONDS (0: never kept)."""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from content_library.models import IndexChange
from content_library.services.catalog import StageRankings

from .extensions import db


def rankings() -> StageRankings:
    return current_app.extensions["stage_rankings"]


def init_app(app: Flask) -> None:
    kept = StageRankings(float(app.config["STAGE_RANKING_SECONDS"]))
    app.extensions["stage_rankings"] = kept
    factory = db.session_factory(app)

    @event.listens_for(factory, "after_flush")
    def _note(session: Session, _context):
        if any(isinstance(obj, IndexChange) for obj in session.new):
            session.info["stage_rankings_stale"] = True

    @event.listens_for(factory, "after_commit")
    def _forget(session: Session):
        # After the commit, not before: a page ranked meanwhile from the old state would be kept.
        if session.info.pop("stage_rankings_stale", False):
            kept.forget()

    @event.listens_for(factory, "after_rollback")
    def _rolled_back(session: Session):
        session.info.pop("stage_rankings_stale", None)
