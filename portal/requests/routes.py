from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from content_library.errors import NotFound
from content_library.models import REQUEST_STATUS_NAMES, REQUEST_STATUSES
from content_library.services import content_requests
from content_library.services.taxonomy import ordered

from ..access import readable_item, requires, user
from ..extensions import db
from ..form_choices import choices, tag_choices
from ..forms_errors import validate_all
from .forms import DecisionForm, RequestForm

bp = Blueprint("requests", __name__)


def _asked_from(slug: str | None):
    """The item page the rep asked from, if they may read it; anything else is ignored."""
    if not slug:
        return None
    try:
        return readable_item(slug)
    except NotFound:
        return None


@bp.route("/requests/new", methods=["GET", "POST"])
@requires("request_content")
def new():
    form = RequestForm()
    form.stage.choices = tag_choices(ordered(db.session, "stages"), "Any stage")
    form.stakeholder.choices = tag_choices(ordered(db.session, "stakeholders"), "Any stakeholder")
    if not form.is_submitted():
        for name in ("stage", "stakeholder", "item"):
            getattr(form, name).data = request.args.get(name, "")[:120]
        form.query.data = request.args.get("q", "")[:256]
    asked_from = _asked_from(form.item.data)

    def problems():
        return content_requests.request_problems(
            db.session, message=form.message.data or "", query=form.query.data or "",
            stage=form.stage.data or None, stakeholder=form.stakeholder.data or None)

    if validate_all(form, problems):
        content_requests.request_content(
            db.session, user(), message=form.message.data, query=form.query.data or "",
            stage=form.stage.data or None, stakeholder=form.stakeholder.data or None,
            asked_from=asked_from)
        flash("Thanks: marketing sees your request. Its status shows here.", "success")
        return redirect(url_for("requests.mine"))
    return render_template("requests/new.html", form=form, asked_from=asked_from), \
        400 if form.errors else 200


@bp.get("/requests/mine")
@requires("request_content")
def mine():
    return render_template("requests/mine.html",
                           requests=content_requests.my_requests(db.session, user()),
                           status_names=REQUEST_STATUS_NAMES, names=_tag_names())


def _tag_names() -> dict[str, str]:
    return {t.slug: t.name for kind in ("stages", "stakeholders")
            for t in ordered(db.session, kind)}


@bp.get("/admin/requests")
@requires("answer_requests")
def manage():
    status = request.args.get("status", "")
    status = status if status in REQUEST_STATUSES else ""
    return render_template("requests/manage.html", status=status,
                           requests=content_requests.requests_for_marketing(db.session,
                                                                            status or None),
                           status_names=REQUEST_STATUS_NAMES, names=_tag_names())


@bp.route("/admin/requests/<int:request_id>", methods=["GET", "POST"])
@requires("answer_requests")
def decide(request_id: int):
    found = content_requests.get_request(db.session, request_id)
    form = DecisionForm()
    form.answer.choices = choices([("", "Pick an item…"),
                                   *content_requests.answer_choices(db.session)])
    if not form.is_submitted():
        form.status.data = found.status if found.status in content_requests.DECISIONS else None
        form.answer.data = found.answered_by.slug if found.answered_by else ""
        form.note.data = found.note

    def problems():
        return content_requests.decision_problems(db.session, form.status.data or "",
                                                  form.answer.data or None, form.note.data or "")

    if validate_all(form, problems):
        content_requests.decide(db.session, user(), request_id, form.status.data,
                                answer=form.answer.data or None, note=form.note.data or "")
        flash(f"Saved: the request is now “{REQUEST_STATUS_NAMES[form.status.data]}”; "
              "the rep sees it under My requests.", "success")
        return redirect(url_for("requests.manage"))
    return render_template("requests/decide.html", form=form, found=found,
                           status_names=REQUEST_STATUS_NAMES, names=_tag_names()), \
        400 if form.errors else 200

