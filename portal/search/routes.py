from __future__ import annotations

import json

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required

from content_library.errors import Invalid
from content_library.services import content_requests, search_words

from .. import numbers
from .. import usage as usage_pages
from ..access import requires, user
from ..extensions import db
from ..forms_errors import put_errors
from ..indexing import backend
from ..library.forms import ConfirmForm
from . import service
from .forms import ContentRequestForm, SynonymForm

bp = Blueprint("search", __name__)


def filters_from(args) -> dict[str, tuple[str, ...]]:
    return {facet: tuple(v for v in args.getlist(facet) if v)[:50] for facet in service.FACET_KINDS}


def page_number(value: str | None) -> int:
    return numbers.page_number(value, last=500)


@bp.get("/search")
@login_required
def results():
    text = request.args.get("q", "")
    filters = filters_from(request.args)
    found = service.search(db.session, backend(), user(), text, filters,
                           page=page_number(request.args.get("page")),
                           as_typed=request.args.get("as_typed") == "1")
    usage_pages.record_search(found)
    form = ContentRequestForm(query=text, filters=json.dumps(found.filters),
                              message=f"Content about “{text.strip()}”" if text.strip() else "")
    return render_template("search/results.html", result=found, facet_names=service.FACET_NAMES,
                           request_form=form)


@bp.get("/search/suggest")
@login_required
def suggest():
    found = service.suggestions(db.session, backend(), user(), request.args.get("q", ""))
    return jsonify([{"text": s.text, "url": url_for("library.item", slug=s.slug) if s.slug else None}
                    for s in found])


@bp.post("/search/request")
@requires("browse_stages")
def ask_marketing():
    # The page's text fields only: a file part or a JSON body would hand them something else.
    form = ContentRequestForm(formdata=request.form)
    # The words the search ran on (it reads no more than its first MAX_QUERY characters).
    query = (form.query.data or "")[:service.MAX_QUERY]
    if form.validate_on_submit():
        try:
            filters = json.loads(form.filters.data or "{}")
        except ValueError:
            filters = form.filters.data  # not a list of tags: refused by the service, in words
        try:
            content_requests.request_content(
                db.session, user(), message=form.message.data or "", query=query,
                filters=filters, stage=content_requests.single_filter(filters, "stage"),
                stakeholder=content_requests.single_filter(filters, "stakeholder"))
        except Invalid as exc:
            for reason in exc.reasons.values():
                flash(reason, "error")
        else:
            flash("Thanks: marketing sees your request in their list; follow it under "
                  "My requests.", "success")
    for errors in form.errors.values():
        flash(errors[0], "error")
    return redirect(url_for("search.results", q=query))


@bp.route("/admin/synonyms", methods=["GET", "POST"])
@requires("manage_taxonomy")
def synonyms():
    form = SynonymForm()
    if form.validate_on_submit():
        try:
            search_words.save_synonyms(db.session, form.terms.data or "")
        except Invalid as exc:
            put_errors(form, exc)
        else:
            flash("Saved: searches use it from now on.", "success")
            return redirect(url_for("search.synonyms"))
    return render_template("search/synonyms.html", form=form, confirm=ConfirmForm(),
                           groups=search_words.synonym_groups(db.session)), \
        400 if form.errors else 200


@bp.post("/admin/synonyms/<int:group_id>/delete")
@requires("manage_taxonomy")
def delete_synonyms(group_id: int):
    if ConfirmForm().validate_on_submit():
        search_words.delete_synonyms(db.session, group_id)
        flash("Deleted.", "success")
    return redirect(url_for("search.synonyms"))
