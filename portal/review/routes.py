"""The monthly enablement review: the page the meeting runs from, and its downloads."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, url_for

from content_library.errors import Invalid
from content_library.models import utcnow
from content_library.services import monthly_review as service

from ..access import requires, user
from ..extensions import db
from ..forms_errors import expired, put_errors
from ..security import csp_nonce
from . import document
from .forms import ActionForm, ActionStatusForm

bp = Blueprint("review", __name__, url_prefix="/review")


def _month(text: str) -> service.Month:
    try:
        return service.parse_month(text)
    except Invalid as exc:
        abort(400, description=exc.reasons["month"])


def _page(month: service.Month, form: ActionForm | None = None, status: int = 200):
    review = service.monthly_review(db.session, month, utcnow())
    return document.page(review, csp_nonce(), form=form or ActionForm()), status


@bp.get("/")
@requires("view_analytics")
def latest():
    return redirect(url_for("review.month", key=service.last_full_month(date.today()).key))


@bp.get("/<key>")
@requires("view_analytics")
def month(key: str):
    return _page(_month(key))


def _download(key: str, kind: str) -> Response:
    review = service.monthly_review(db.session, _month(key), utcnow())
    body, mimetype = ((document.html_file(review), "text/html") if kind == "html"
                      else (document.csv_file(review), "text/csv"))
    name = f"monthly-review-{review.month.key}.{kind}"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.get("/<key>.html")
@requires("view_analytics")
def download_html(key: str):
    return _download(key, "html")


@bp.get("/<key>.csv")
@requires("view_analytics")
def download_csv(key: str):
    return _download(key, "csv")


@bp.post("/<key>/actions")
@requires("view_analytics")
def add_action(key: str):
    month = _month(key)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            service.add_action(db.session, month, service.NewAction(
                form.text.data or "", form.owner.data or "", form.due.data or ""), user())
        except Invalid as exc:
            put_errors(form, exc)
        else:
            flash("Action item recorded: next month's review lists it.", "success")
            return redirect(url_for("review.month", key=month.key, _anchor="actions"))
    elif expired(form):
        form.form_errors.append("The form expired: send it again.")
    return _page(month, form, 400)


@bp.post("/<key>/actions/<int:action_id>")
@requires("view_analytics")
def set_status(key: str, action_id: int):
    month = _month(key)
    form = ActionStatusForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired: reload the page and send it again.")
    try:
        service.set_action_status(db.session, action_id, form.status.data or "")
    except Invalid as exc:
        abort(400, description=exc.reasons["status"])
    return redirect(url_for("review.month", key=month.key, _anchor="actions"))
