from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import BadRequest

from content_library import visibility
from content_library.errors import Invalid, NotFound
from content_library.models import REP_ONLY_ARGUMENT_FIELDS
from content_library.rendering import markdown_to_html
from content_library.services import catalog, templates, usage
from content_library.services import taxonomy as taxonomy_service
from content_library.services.items import snapshot
from content_library.services.throttle import Throttled
from search_index import FACETS

from .. import usage as usage_pages
from ..access import readable_item, user
from ..business_cases.routes import client_keys, send_document
from ..errors import error_response, request_id
from ..extensions import csrf, db
from ..indexing import backend
from ..numbers import query_number
from ..rate_limits import shared_counts
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


# What a buyer (a champion) is never told about an item: the staff's signals.
STAFF_ONLY_FIELDS = ("owner", "review_by", "stale")


def item_json(item, *, buyer: bool = False) -> dict:
    """The item's saved state (the same snapshot its versions keep), plus what readers need.
    A buyer's copy leaves out the staff's signals and the rep-only parts of the argument."""
    answer = _item_json(item)
    if buyer:
        for name in STAFF_ONLY_FIELDS:
            answer.pop(name, None)
        answer["argument"] = {name: value for name, value in (answer.get("argument") or {}).items()
                              if name not in REP_ONLY_ARGUMENT_FIELDS}
    return answer


def _item_json(item) -> dict:
    file = item.file
    return {
        **{k: v for k, v in snapshot(item).items() if k != "file"},
        "stale": item.is_stale(date.today()),
        "updated_at": item.updated_at.isoformat() + "Z",
        "body_html": markdown_to_html(item.body),
        "file_url": url_for("library.download", slug=item.slug) if file else None,
        "file": {"name": item.file_name, "kind": file.kind, "size": file.size,
                 "text_readable": file.text is not None} if file else None,
        "template_fields": [{"name": f.name, "label": f.label, "type": f.kind,
                             "required": f.required}
                            for f in templates.fields(db.session, item)],
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
    found = readable_item(slug)
    answer = jsonify(item_json(found, buyer=not visibility.may(user(), "see_internal_signals")))
    usage_pages.record("view", found, via="api")
    return answer


def _generate_body() -> tuple[dict, str | None, str | None]:
    """(values, deal's CRM id, company) from a generate call's body; 400 naming what is wrong."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest('Send a JSON object: {"values": {field: value}}.')
    unknown = sorted(set(body) - {"values", "company", "deal"})
    if unknown:
        raise BadRequest(f"Unknown field '{unknown[0]}': send values, and optionally company "
                         "and deal.")
    values, crm_id, company = body.get("values", {}), body.get("deal"), body.get("company")
    if not isinstance(values, dict):
        raise BadRequest("'values' must be an object: {field name: value}.")
    if crm_id is not None and not isinstance(crm_id, str):
        raise BadRequest("'deal' must be a CRM id (a string) or null.")
    if company is not None and not isinstance(company, str):
        raise BadRequest("'company' must be a text or null.")
    return values, crm_id, company


def _company(person, fields, values: dict, named: str | None, deal) -> str:
    """A champion's own company; for staff the one named, else the template's company field,
    else the deal's account."""
    if not visibility.may(person, "use_in_deal"):
        return person.company
    typed = [values[f.name] for f in fields if f.is_company and isinstance(values.get(f.name), str)]
    return named or next(iter(typed), "") or (deal.account if deal else "")


@bp.post("/content/<slug>/generate")
def generate(slug: str):
    """Fill in a template: {"values": {field: value}, "company"?, "deal"?} → the filled file."""
    found = readable_item(slug)
    values, crm_id, named = _generate_body()
    fields = templates.fields(db.session, found)
    if not fields:
        raise NotFound(slug)
    person = user()
    # Deals are the seller's business: to anyone else every deal is unknown.
    if crm_id is not None and not visibility.may(person, "use_in_deal"):
        raise NotFound(crm_id)
    deal = usage.find_deal(db.session, crm_id)
    company = _company(person, fields, values, named, deal)
    asked = {k: v for k, v in values.items() if not any(f.is_company and f.name == k for f in fields)}
    try:
        document = templates.generate(db.session, found, asked, company,
                                      Path(current_app.config["UPLOAD_DIR"]),
                                      client=client_keys(f"user:{person.id}"),
                                      shared=shared_counts())
    except Invalid as exc:
        db.session.rollback()
        return jsonify({"error": str(exc), "fields": exc.reasons, "request_id": request_id()}), 400
    except Throttled as exc:
        return error_response(429, str(exc), {"Retry-After": str(exc.retry_after)})
    usage_pages.record("template_generated", found, deal=deal,
                       stage=deal.stage if deal else None, format=document.format, via="api")
    return send_document(document)


@bp.post("/usage")
def report_usage():
    """A client (a CRM sidebar, say) reports what its user did. The event is the action
    itself: 201 means it is stored."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, 'Send a JSON object: {"kind", "content", "deal"}.')
    unknown = sorted(set(body) - {"kind", "content", "deal"})
    if unknown:
        return error_response(400, f"Unknown field '{unknown[0]}': send kind, content and deal.")
    kind, slug, crm_id = body.get("kind"), body.get("content"), body.get("deal")
    if kind not in usage.API_KINDS:
        return error_response(400, f"'kind' must be one of {', '.join(usage.API_KINDS)}.")
    if not isinstance(slug, str) or not slug:
        return error_response(400, "'content' must be an item's slug.")
    if crm_id is not None and not isinstance(crm_id, str):
        return error_response(400, "'deal' must be a CRM id (a string) or null.")
    found = readable_item(slug)
    # Deals are the seller's business: to anyone else every deal is unknown.
    if crm_id is not None and not visibility.may(user(), "browse_stages"):
        raise NotFound(crm_id)
    deal = usage.find_deal(db.session, crm_id)
    event = usage.event(kind, item=found, user=user(), deal=deal,
                        stage=deal.stage if deal else None, via="api")
    try:
        usage.keep(db.session, [event])
    except SQLAlchemyError:
        db.session.rollback()
        return error_response(503, "The usage event could not be stored: send it again.",
                              {"Retry-After": "1"})
    return jsonify({"kind": kind, "content": found.slug, "deal": crm_id, "stage": event.stage,
                    "occurred_at": event.occurred_at.isoformat() + "Z"}), 201


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
    usage_pages.record_search(found)
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
