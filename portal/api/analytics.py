"""The analytics endpoints of the JSON API (INTERFACES sections 6 and 7): managers and admins."""

from __future__ import annotations

from datetime import date

from flask import jsonify, request

from content_library import visibility
from content_library.errors import Invalid
from content_library.services import content_use
from content_library.services.effectiveness import effectiveness, period, stage_conversion

from ..access import user
from ..errors import error_response
from ..extensions import db
from .routes import bp


def _period():
    """The caller's period and None, or None and the 400 answer for bad dates."""
    visibility.require(user(), "view_analytics")
    try:
        return period(request.args.get("from"), request.args.get("to"), date.today()), None
    except Invalid as exc:
        return None, error_response(400, str(exc))


@bp.get("/analytics/content")
def analytics_content():
    when, failed = _period()
    if failed:
        return failed
    rows = content_use.item_usage(db.session, when, date.today())
    return jsonify([row.as_dict() for row in rows])


@bp.get("/analytics/effectiveness")
def analytics_effectiveness():
    when, failed = _period()
    if failed:
        return failed
    return jsonify(effectiveness(db.session, when).as_dict())


@bp.get("/analytics/stages")
def analytics_stages():
    when, failed = _period()
    if failed:
        return failed
    return jsonify([stage.as_dict() for stage in stage_conversion(db.session, when)])


@bp.get("/analytics/searches")
def analytics_searches():
    when, failed = _period()
    if failed:
        return failed
    return jsonify([gap.as_dict() for gap in content_use.search_backlog(db.session, when)])
