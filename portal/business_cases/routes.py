from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from content_library import visibility
from content_library.errors import Invalid, NotFound
from content_library.models import FIELD_KIND_NAMES, FIELD_KINDS, Deal
from content_library.services import deal_links, templates
from content_library.services.throttle import Throttled

from .. import usage as usage_pages
from ..access import readable_item, requires, user
from ..deals.routes import deal_choices
from ..downloads import made_file
from ..extensions import db
from ..forms_errors import expired, put_errors
from ..library.forms import ConfirmForm
from ..numbers import LARGEST_ID, whole_number
from ..rate_limits import shared_counts
from .forms import FillForm, fill_form, typed_values

bp = Blueprint("business_cases", __name__)


def client_keys(*own: str) -> list[str]:
    """Whom a generation counts against: the caller's own keys ("user:7", "share:3") and
    the address the request came from."""
    return [*own, f"address:{request.remote_addr or 'unknown'}"]


def filled_from_form(item, form: FillForm, template_fields: Sequence[templates.Field], *,
                     company: str, client: Sequence[str], reasons: dict[str, str] | None = None):
    """Check the form and fill the template. Returns (document, 200, {}) or, refused, (None,
    status, headers) with every reason on the form beside its field (`reasons`: the caller's
    own, such as a deal that closed, named together with the values')."""
    reasons = dict(reasons or {})
    form.validate()
    if expired(form):
        return None, 400, {}
    document = None
    try:
        if reasons or form.errors:  # still check the values, to name every problem at once
            templates.read_values(template_fields, typed_values(form), company)
        else:
            document = templates.generate(
                db.session, item, typed_values(form), company,
                Path(current_app.config["UPLOAD_DIR"]), client=client,
                shared=shared_counts())
    except Invalid as exc:
        reasons.update(exc.reasons)
    except Throttled as exc:
        form.form_errors = [*form.form_errors, str(exc)]
        return None, 429, {"Retry-After": str(exc.retry_after)}
    if reasons or form.errors:
        put_errors(form, Invalid(reasons), form.field_keys)
        return None, 400, {}
    return document, 200, {}


def send_document(document: templates.FilledDocument):
    return made_file(document.content, document.mime, document.filename)


def _chosen_deal(form: FillForm) -> tuple[Deal | None, dict[str, str]]:
    if "deal" not in form or not form.deal.data:
        return None, {}
    try:
        return deal_links.open_deal(db.session, whole_number(form.deal.data, 1, LARGEST_ID)), {}
    except Invalid as exc:
        return None, exc.reasons


@bp.route("/content/<slug>/fill", methods=["GET", "POST"])
@login_required
def fill(slug: str):
    """Fill in a business-case template: the form, and the filled document as a download."""
    item = readable_item(slug)
    template_fields = templates.fields(db.session, item)
    if not template_fields:
        raise NotFound(slug)
    person = user()
    staff = visibility.may(person, "use_in_deal")  # reps and managers: any company, a deal
    options = {} if request.method == "POST" else {"formdata": None}
    form = fill_form(template_fields, ask_company=staff, deals=deal_choices() if staff else None,
                     **options)
    stage = usage_pages.stage_context()
    status, headers = 200, {}
    if request.method == "GET":
        if staff:  # ?deal=<id> picks the deal, and its account is the likely company
            form.deal.data = request.args.get("deal", "")
            deal, _ = _chosen_deal(form)
            form.company.data = deal.account if deal else person.company
    else:
        company = (form.company.data or "") if staff else person.company
        deal, reasons = _chosen_deal(form) if staff else (None, {})
        document, status, headers = filled_from_form(
            item, form, template_fields, company=company, client=client_keys(f"user:{person.id}"),
            reasons=reasons)
        if document is not None:
            usage_pages.record("template_generated", item, deal=deal,
                               stage=deal.stage if deal else stage, format=document.format)
            return send_document(document)
    return render_template("business_cases/fill.html", item=item, form=form, staff=staff,
                           format=templates.template_format(item), usage_stage=stage,
                           company=person.company), status, headers


# ---- the managers' field editor ---------------------------------------------------------------


def _edits(count: int) -> list[templates.FieldEdit]:
    """The editor's rows as sent: row i names its field in name-i."""
    edits = []
    for index in range(count):
        edits.append(templates.FieldEdit(
            name=request.form.get(f"name-{index}", ""), label=request.form.get(f"label-{index}", ""),
            kind=request.form.get(f"kind-{index}", ""),
            required=request.form.get(f"required-{index}") == "1",
            position=whole_number(request.form.get(f"position-{index}", ""), 0, 10_000) or 0))
    return edits


@bp.route("/content/<slug>/template-fields", methods=["GET", "POST"])
@requires("manage_content")
def template_fields(slug: str):
    """Label, type, required mark and order of each field a template offers."""
    item = readable_item(slug)
    current = templates.fields(db.session, item)
    form = ConfirmForm()
    rows = [templates.FieldEdit(f.name, f.label, f.kind, f.required, n)
            for n, f in enumerate(current, start=1)]
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not form.validate_on_submit():
            errors = {"": "The form expired or was sent without its security token: "
                          "reload the page and try again."}
        else:
            edits = _edits(len(current))
            try:
                templates.save_fields(db.session, item, edits)
            except Invalid as exc:
                errors = exc.reasons
                if "" not in errors:
                    rows = edits  # keep what the manager typed, beside the reasons
            else:
                flash("Saved the template's fields.", "success")
                return redirect(url_for("library.item", slug=item.slug))
    return render_template("business_cases/fields.html", item=item, form=form, rows=rows,
                           errors=errors, kinds=[(k, FIELD_KIND_NAMES[k]) for k in FIELD_KINDS],
                           company_fields=templates.COMPANY_FIELDS,
                           file_kind=item.file.kind if item.file else None), \
        400 if errors else 200


def init_templates(app) -> None:
    app.jinja_env.globals.update(template_format=templates.template_format)
