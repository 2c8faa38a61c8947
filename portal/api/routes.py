from __future__ import annotations

from datetime import date

from flask import Blueprint, g, jsonify, request, url_for
from flask_login import current_user

from content_library import visibility
from content_library.rendering import markdown_to_html
from content_library.services import catalog
from content_library.services import taxonomy as taxonomy_service
from content_library.services.items import snapshot
from search_index import FACETS

from ..access import readable_item, user
from ..errors import error_response
from ..extensions import csrf, db
from ..indexing import backend
from ..numbers import query_number
from ..search import service as search_service
from ..search.routes import filters_from

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.before_request
def _authenticate():
    # A bearer token is not sent by browsers on their own, so it needs no CSRF token;
    # a call riding on the session cookie does. Flask-Login loads the caller lazily: load it
    # first, or g.token_auth is never set in time.
    authenticated = current_user.is_authenticated
    if request.method not in ("GET", "HEAD", "OPTIONS") and not g.get("token_auth"):
        csrf.protect()
    if not authenticated:
        return error_response(401, "Log in, or send 'Authorization: Bearer <token>'.")
    return None


def item_json(item) -> dict:
    """The item's saved state (the same snapshot its versions keep), plus what readers need."""
    file = item.file
    return {
        **{k: v for k, v in snapshot(item).items() if k != "file"},
        "stale": item.is_stale(date.today()),
        "updated_at": item.updated_at.isoformat() + "Z",
        "body_html": markdown_to_html(item.body),
        "file_url": url_for("library.download", slug=item.slug) if file else None,
        "file": {"name": item.file_name, "kind": file.kind, "size": file.size,
                 "text_readable": file.text is not None} if file else None,
        "template_fields": list(file.template_fields or []) if file else [],
        "version": item.version,
    }


def card_json(card) -> dict:
    return {
        "slug": card.slug, "title": card.title, "summary": card.summary, "type": card.type.slug,
        "audience": card.audience, "stages": [t.slug for t in card.stages],
        "stakeholders": [t.slug for t in card.stakeholders],
        "solutions": [t.slug for t in card.solutions],
        "verticals": [t.slug for t in card.verticals],
        "highlight": "", "score": None, "reasons": list(card.reasons),
    }


@bp.get("/content/<slug>")
def content(slug: str):
    return jsonify(item_json(readable_item(slug)))


@bp.get("/stages")
def stages():
    visibility.require(user(), "browse_stages")
    counts = taxonomy_service.published_counts_by_stage(db.session,
                                                        visibility.published_filter(user()))
    return jsonify([
        {"slug": s.slug, "name": s.name, "phase": s.phase,
         "forecast_category": s.forecast_category, "buyer_goal": s.buyer_goal,
         "exit_criteria": list(s.exit_criteria or []), "count": counts.get(s.slug, 0)}
        for s in taxonomy_service.stages(db.session)
    ])


@bp.get("/stages/<slug>/content")
def stage_content(slug: str):
    visibility.require(user(), "browse_stages")
    stage = taxonomy_service.get_stage(db.session, slug)
    choices = catalog.taxonomy_choices(db.session)
    picked = {}
    for name, kind in (("stakeholder", "stakeholders"), ("solution", "solutions"),
                       ("vertical", "verticals")):
        value = request.args.get(name) or None
        if value is not None and value not in {t.slug for t in choices[kind]}:
            return error_response(400, f"Unknown {name} '{value}'.")
        picked[name] = value
    context = catalog.DealContext(stage=stage.slug, **picked)
    cards = catalog.recommend(db.session, user(), context, date.today())
    return jsonify({"stage": stage.slug, "results": [card_json(c) for c in cards]})


@bp.get("/search")
def search():
    page = query_number("page", default=1, low=1, high=10_000)
    per_page = query_number("per_page", default=20, low=1, high=100)
    found = search_service.search(db.session, backend(), user(), request.args.get("q", ""),
                                  filters_from(request.args), page=page, per_page=per_page)
    by_slug = {f.card.slug: f for f in found.found}
    return jsonify({
        "total": found.total,
        "page": page,
        "per_page": per_page,
        "match": found.match,
        "results": [{**card_json(f.card), "highlight": f.highlight, "score": round(f.score, 4),
                     "missing": list(f.missing)}
                    for f in by_slug.values()],
        "facets": {facet: dict(found.raw_facets.get(facet, {})) for facet in FACETS},
        "suggestion": found.suggestion,
    })
