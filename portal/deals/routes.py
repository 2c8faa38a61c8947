from __future__ import annotations

import re
import secrets
import shutil
import time
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.utils import secure_filename

from content_library.errors import Invalid
from content_library.services import deal_links, deal_stages
from content_library.services import taxonomy as taxonomy_service
from content_library.services.deals_import import import_deals
from content_library.services.exchange import ImportFailed

from ..access import readable_item, requires, user
from ..extensions import db
from ..form_choices import choices
from ..library.forms import ConfirmForm
from ..numbers import LARGEST_ID, whole_number
from ..security import safe_next
from .forms import DealFilterForm, DealsImportForm, UseInDealForm

bp = Blueprint("deals", __name__)

_STAGED = re.compile(r"[A-Za-z0-9_-]{22}")
STAGED_HOURS = 24


# ---- importing a CRM export ----------------------------------------------------------------


def _staging_root() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "deal-imports"


def _stage_uploads(form: DealsImportForm) -> tuple[str, dict[str, Path]]:
    """Keep the uploaded exports on the server under a random name, so the import the manager
    confirms after the preview reads exactly the files the preview counted."""
    root = _staging_root()
    _discard_old_uploads(root)
    token = secrets.token_urlsafe(16)
    folder = root / token
    folder.mkdir(parents=True)
    staged = {}
    for name in ("deals", "history"):
        upload = getattr(form, name).data
        if upload and getattr(upload, "filename", ""):
            # The export's own name, so problems read "deals.csv line 4: Amount …".
            path = folder / name / (secure_filename(upload.filename) or f"{name}.csv")
            path.parent.mkdir()
            upload.save(path)
            staged[name] = path
    return token, staged


def _staged_uploads(token: str) -> dict[str, Path]:
    if not _STAGED.fullmatch(token or ""):
        return {}
    folder = _staging_root() / token
    return {name: next((folder / name).iterdir()) for name in ("deals", "history")
            if (folder / name).is_dir() and any((folder / name).iterdir())}


def _discard_old_uploads(root: Path) -> None:
    if not root.is_dir():
        return
    cutoff = time.time() - STAGED_HOURS * 3600
    for folder in root.iterdir():
        if folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


@bp.route("/deals/import", methods=["GET", "POST"])
@requires("manage_deals")
def import_page():
    form = DealsImportForm()
    report = problems = None
    staged: dict[str, Path] = {}
    confirming = request.form.get("action") == "import"
    if form.validate_on_submit():
        if confirming:
            staged = _staged_uploads(form.staged.data)
        elif form.deals.data and getattr(form.deals.data, "filename", ""):
            form.staged.data, staged = _stage_uploads(form)
        if "deals" not in staged:
            form.deals.errors = ["Choose the CSV file your CRM exported."
                                 if not confirming else
                                 "The preview's files are gone (a day has passed, or they were "
                                 "imported): choose the file again."]
        else:
            try:
                report = import_deals(db.session, staged["deals"], form.crm_format.data,
                                      history=staged.get("history"), dry_run=not confirming)
            except ImportFailed as exc:
                problems = exc.problems
        if report is not None and confirming:
            shutil.rmtree(_staging_root() / form.staged.data, ignore_errors=True)
            flash(f"Imported: {report.line()}.", "success")
            return redirect(url_for("deals.stage_names") if report.unmapped
                            else url_for("deals.import_page"))
    status = 400 if (problems or form.errors) else 200
    return render_template("deals/import.html", form=form, report=report, problems=problems,
                           files={k: p.name for k, p in staged.items()}), status


# ---- CRM stage names -------------------------------------------------------------------------


@bp.route("/deals/stages", methods=["GET", "POST"])
@requires("manage_deals")
def stage_names():
    form = ConfirmForm()
    chosen: dict[str, str] = {}
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        names = request.form.getlist("crm_stage")[:500]
        slugs = request.form.getlist("stage")[:500]
        chosen = dict(zip(names, slugs, strict=False))
        try:
            changed = deal_stages.save_mappings(db.session, chosen)
        except Invalid as exc:
            errors = exc.reasons
        else:
            flash(f"Saved: {changed} deal and history rows now follow the new mapping.",
                  "success")
            return redirect(url_for("deals.stage_names"))
    rows = deal_stages.crm_stage_names(db.session)
    stages = [(s.slug, s.name) for s in taxonomy_service.stages(db.session)]
    return render_template("deals/stages.html", form=form, rows=rows, stages=stages,
                           stage_name=dict(stages), chosen=chosen, errors=errors), \
        400 if errors else 200


# ---- "used in deal" ---------------------------------------------------------------------------


@bp.get("/deals/open.json")
@requires("use_in_deal")
def open_deals_json():
    text = request.args.get("q", "")[:deal_links.MAX_FILTER]
    return jsonify([{"id": d.id, "name": d.name, "account": d.account, "label": d.label}
                    for d in deal_links.open_deals(db.session, text)])


def deal_choices() -> list[deal_links.DealChoice]:
    """The open deals the forms on a page offer before any filtering: read once per page."""
    if "open_deal_choices" not in g:
        g.open_deal_choices = deal_links.open_deals(db.session)
    return g.open_deal_choices


def my_deals_for(item) -> list[deal_links.DealChoice]:
    return deal_links.deals_used_in(db.session, user(), item)


def use_in_deal_form(found: list | None = None) -> UseInDealForm:
    offered = found if found is not None else deal_choices()
    form = UseInDealForm(formdata=None, stage=_stage_context(), next=request.full_path)
    form.deal.choices = choices([(str(d.id), d.label) for d in offered])
    return form


def deal_picker() -> dict:
    """What the "used in a deal" form of every item on a page shares, rendered once a request:
    a search page offers the form under each of its twenty hits, and building twenty forms
    of twenty deals each was a third of the page's time (bench/load.py)."""
    if "deal_picker" not in g:
        form = use_in_deal_form()
        option = Markup('<option value="{}">{}</option>')
        g.deal_picker = {
            "form": form,
            "hidden": form.hidden_tag(),
            "options": Markup().join(option.format(c.value, c.label) for c in form.deal.choices),
        }
    return g.deal_picker


def _stage_context() -> str:
    """The stage the rep was looking at: the item page's ?stage=, or a search's one stage."""
    stages = [s for s in request.args.getlist("stage") if s]
    return stages[0] if len(stages) == 1 else ""


@bp.get("/content/<slug>/deals")
@requires("use_in_deal")
def pick_deal(slug: str):
    """The page behind the filter field, for a browser without JavaScript (and a link to share)."""
    item = readable_item(slug)
    search = DealFilterForm(request.args)
    text = search.q.data or "" if search.validate() else ""
    found = deal_links.open_deals(db.session, text)
    form = use_in_deal_form(found)
    form.next.data = safe_next(request.args.get("next"), url_for("library.item", slug=item.slug))
    return render_template("deals/pick.html", item=item, search=search, form=form, found=found,
                           used=my_deals_for(item), confirm=ConfirmForm())


@bp.post("/content/<slug>/deals")
@requires("use_in_deal")
def use_in_deal(slug: str):
    item = readable_item(slug)
    form = UseInDealForm()
    back = safe_next(form.next.data, url_for("library.item", slug=item.slug))
    if not form.validate_on_submit():
        flash("The form expired: send it again.", "error")
        return redirect(back)
    deal_id = whole_number(form.deal.data, 1, LARGEST_ID)
    try:
        deal, new = deal_links.use_in_deal(db.session, user(), item, deal_id,
                                           stage=form.stage.data or None)
    except Invalid as exc:
        flash(exc.reasons["deal"], "error")
        return redirect(url_for("deals.pick_deal", slug=item.slug, next=back))
    if new:
        flash(f"Recorded: “{item.title}” used in {deal.label}. "
              "You can remove it from the item's page.", "success")
    else:
        flash(f"Already recorded: “{item.title}” is used in {deal.label}.", "success")
    return redirect(back)


@bp.post("/content/<slug>/deals/<int:deal_id>/remove")
@requires("use_in_deal")
def remove_from_deal(slug: str, deal_id: int):
    item = readable_item(slug)
    back = safe_next(request.form.get("next"), url_for("library.item", slug=item.slug))
    if (ConfirmForm().validate_on_submit()
            and deal_links.remove_from_deal(db.session, user(), item, deal_id)):
        flash("Removed: the deal no longer lists this item as used.", "success")
    return redirect(back)


def init_templates(app) -> None:
    app.jinja_env.globals.update(deal_picker=deal_picker, my_deals_for=my_deals_for)

