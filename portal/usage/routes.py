"""What the item page's browser side reports (copies), and reps' feedback on an item."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import login_required

from content_library.errors import Invalid
from content_library.services import usage

from ..access import readable_item, requires, user
from ..errors import error_response
from ..extensions import db
from ..forms_errors import put_errors
from . import record, stage_context
from .forms import FeedbackForm

bp = Blueprint("usage", __name__)


@bp.post("/content/<slug>/copied")
@login_required
def copied(slug: str):
    """The copy buttons' beacon (CSRF token in the X-CSRFToken header): which part was copied."""
    found = readable_item(slug)
    try:
        part = usage.copied_part(request.form.get("part"))
    except Invalid as exc:
        return error_response(400, exc.reasons["part"])
    record("copy", found, stage=stage_context(), part=part)
    return "", 204


@bp.post("/content/<slug>/feedback")
@requires("browse_stages")
def feedback(slug: str):
    from ..library.routes import item_page

    found = readable_item(slug)
    form = FeedbackForm()
    stage = usage.known_stage(db.session, form.stage.data)
    if form.validate_on_submit():
        try:
            usage.keep(db.session, [usage.feedback_event(
                found, user(), form.useful.data == "yes", form.comment.data or "", stage)])
        except Invalid as exc:
            db.session.rollback()
            put_errors(form, exc)
        else:
            flash("Thank you for your feedback: the item's owner will read it.", "success")
            return redirect(url_for("library.item", slug=found.slug, stage=stage))
    return item_page(found, stage=stage, feedback_form=form, status=400)
