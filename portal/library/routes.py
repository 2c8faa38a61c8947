from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from content_library import visibility
from content_library.errors import Conflict, Invalid, NotFound
from content_library.models import (
    ARGUMENT_PARTS,
    BUYER_ARGUMENT_PARTS,
    LIST_ARGUMENT_FIELDS,
    REP_ONLY_ARGUMENT_FIELDS,
    STATUS_NAMES,
)
from content_library.rendering import markdown_to_html
from content_library.services import catalog, content_use
from content_library.services import items as item_service
from content_library.services.files import discard_unreferenced, store_file, stored_path

from .. import usage as usage_pages
from ..access import readable_item, requires, user
from ..downloads import attachment
from ..extensions import db
from ..form_choices import choices as as_choices
from ..forms_errors import expired, put_errors
from ..indexing import backend
from ..numbers import LARGEST_ID, page_number, whole_number
from ..search import service as search_service
from ..usage.forms import FeedbackForm
from .forms import ConfirmForm, ItemForm, StatusForm

bp = Blueprint("library", __name__)


@bp.get("/content/<slug>")
@login_required
def item(slug: str):
    try:
        found = readable_item(slug)
    except NotFound:
        return _archived_notice(slug)
    stage = usage_pages.stage_context()
    page = item_page(found, stage=stage)
    usage_pages.record("view", found, stage=stage, also=usage_pages.search_open(found, stage))
    return page


def item_page(found, *, stage: str | None = None, feedback_form=None, status: int = 200):
    """The item page; `stage` is the stage context the reader came from, kept on its links.
    A buyer (a champion) is shown only the parts of an argument written for buyers."""
    staff = visibility.may(user(), "see_internal_signals")
    parts = [part for part in (ARGUMENT_PARTS if staff else BUYER_ARGUMENT_PARTS)
             if found.argument and found.argument.get(part[0])]
    return render_template(
        "library/item.html", item=found, body_html=markdown_to_html(found.body),
        parts=parts, today=date.today(),
        can_manage=visibility.may(user(), "manage_content"),
        status_form=StatusForm(), transitions=item_service.TRANSITIONS[found.status],
        verbs=item_service.TRANSITION_VERBS, status_names=STATUS_NAMES,
        confirmed_moves=CONFIRMED_MOVES, usage_stage=stage,
        feedback_form=feedback_form or FeedbackForm(stage=stage),
    ), status


def _archived_notice(slug: str):
    """A rep who follows an old link learns the item was archived, and what replaced it;
    anyone else gets the same 404 as for an item that never existed."""
    try:
        gone = item_service.get_item(db.session, slug)
    except NotFound:
        gone = None
    if not visibility.archived_notice(user(), gone):
        raise NotFound(slug)
    replacement = gone.replaced_by
    if replacement is not None and not visibility.can_read(user(), replacement):
        replacement = None
    return render_template("library/archived.html", item=gone, replacement=replacement), 410


@bp.get("/content/<slug>/file")
@login_required
def download(slug: str):
    found = readable_item(slug)
    if found.file is None:
        raise NotFound(slug)
    path = stored_path(Path(current_app.config["UPLOAD_DIR"]), found.file.sha256)
    if not path.is_file():
        raise NotFound(slug)
    inline = request.args.get("inline") == "1" and found.file.kind in ("pdf", "png", "jpeg")
    response = attachment(path, found.file.mime, found.file_name or "file", inline=inline)
    usage_pages.record("download", found, stage=usage_pages.stage_context(),
                       **({"preview": True} if inline else {}))
    return response


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _fill_choices(form: ItemForm, found=None) -> None:
    owners = [("", "Nobody yet")] + [(u.email, f"{u.name} ({u.email})")
                                     for u in item_service.owner_choices(db.session)]
    if found is not None and found.owner_email and found.owner_email not in dict(owners):
        # An imported owner without an account here stays until someone picks another.
        owners.append((found.owner_email, f"{found.owner_email} (no account here)"))
    form.owner.choices = as_choices(owners)
    choices = catalog.taxonomy_choices(db.session)
    form.type.choices = as_choices([("", "Choose a type…")] + [(t.slug, t.name)
                                                               for t in choices["content_types"]])
    for name in ("stages", "stakeholders", "solutions", "verticals"):
        getattr(form, name).choices = as_choices((t.slug, t.name) for t in choices[name])


def _input(form: ItemForm) -> item_service.ItemInput:
    argument = {}
    for name, _, is_list in ARGUMENT_PARTS:
        raw = getattr(form, f"argument_{name}").data
        argument[name] = _lines(raw) if is_list else (raw or "").strip()
    return item_service.ItemInput(
        slug=(form.slug.data or "").strip() or item_service.slugify(form.title.data or ""),
        title=form.title.data or "", summary=form.summary.data or "", type=form.type.data or "",
        audience=form.audience.data or "", status=form.status.data or "",
        **{name: tuple(v for v in getattr(form, name).data or () if v)
           for name in ("stages", "stakeholders", "solutions", "verticals")},
        owner=(form.owner.data or "").strip() or None, review_by=form.review_by.data,
        body=form.body.data or "", argument=argument,
    )


def _fill_from_item(form: ItemForm, found) -> None:
    snap = item_service.snapshot(found)
    for key in ("title", "slug", "summary", "type", "audience", "status", "owner", "body"):
        getattr(form, key).data = snap[key]
    for key in ("stages", "stakeholders", "solutions", "verticals"):
        getattr(form, key).data = snap[key]
    form.review_by.data = found.review_by
    for name, _, _ in ARGUMENT_PARTS:
        value = snap["argument"].get(name)
        getattr(form, f"argument_{name}").data = (
            "\n".join(value) if name in LIST_ARGUMENT_FIELDS and value else (value or ""))
    form.version.data = str(found.version)


def _uploaded_file(form: ItemForm):
    upload = form.file.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    return store_file(db.session, Path(current_app.config["UPLOAD_DIR"]), upload.stream,
                      upload.filename, int(current_app.config["MAX_UPLOAD_BYTES"]))


_ARGUMENT_FIELDS = {f"argument.{n}": f"argument_{n}" for n, _, _ in ARGUMENT_PARTS}


def _refuse(form: ItemForm, reasons: dict[str, str]) -> None:
    db.session.rollback()
    discard_unreferenced(db.session, Path(current_app.config["UPLOAD_DIR"]))
    put_errors(form, Invalid(reasons), _ARGUMENT_FIELDS)
    if form.file.data and getattr(form.file.data, "filename", "") and not form.file.errors:
        form.file.errors = ["Choose the file again: files are not kept when a form is refused."]


def _save(form: ItemForm, existing=None):
    """Check the fields, the service's rules and the upload together, so a refused form
    lists every problem at once; save only when all pass."""
    form_ok = form.validate()
    if expired(form):
        return None
    data = _input(form)
    reasons = item_service.problems(db.session, data, existing, owner_must_have_account=True)
    if not data.slug and not data.title.strip():
        reasons.pop("slug", None)  # it is made from the title, already reported missing
    try:
        file = _uploaded_file(form)
    except Invalid as exc:
        reasons.update(exc.reasons)
    if not form_ok or reasons:
        _refuse(form, reasons)
        return None
    if file is None:
        file = None if (existing is not None and form.remove_file.data) else item_service.KEEP_FILE
    expected = whole_number(form.version.data, 0, LARGEST_ID)
    try:
        saved, outcome = item_service.save_item(
            db.session, data, user(), note=form.note.data or "", expected_version=expected,
            existing=existing, file=file, owner_must_have_account=True)
    except Invalid as exc:
        _refuse(form, exc.reasons)
        return None
    except Conflict as exc:
        db.session.rollback()
        discard_unreferenced(db.session, Path(current_app.config["UPLOAD_DIR"]))
        form.form_errors = [f"{exc} Your changes are below: open the history in a new tab to "
                            "compare, then save again."]
        form.version.data = str(existing.version) if existing is not None else None
        return None
    db.session.info.pop("new_files", None)
    return saved, outcome


@bp.route("/library/new", methods=["GET", "POST"])
@requires("manage_content")
def new_item():
    form = ItemForm()
    _fill_choices(form)
    if form.is_submitted():
        result = _save(form)
        if result:
            flash(f"Created “{result[0].title}”.", "success")
            _warn_if_now_external(None, result[0])
            return redirect(url_for("library.item", slug=result[0].slug))
    status = 400 if request.method == "POST" else 200
    return _edit_page(form, None, status)


@bp.route("/content/<slug>/edit", methods=["GET", "POST"])
@requires("manage_content")
def edit_item(slug: str):
    found = readable_item(slug)
    form = ItemForm()
    _fill_choices(form, found)
    if request.method == "GET":
        _fill_from_item(form, found)
    else:
        before = found.audience
        result = _save(form, existing=found)
        if result:
            saved, outcome = result
            _warn_if_now_external(before, saved)
            flash("Nothing changed." if outcome == "unchanged"
                  else f"Saved version {saved.version}.", "success")
            return redirect(url_for("library.item", slug=saved.slug))
    status = 400 if request.method == "POST" else 200
    return _edit_page(form, found, status)


def buyer_view(argument: dict) -> tuple[list[str], list[str]]:
    """The headings of the argument parts written here that a buyer would see, and of those
    they never see (kept for reps), in reading order."""
    filled = [(name, heading) for name, heading, _ in ARGUMENT_PARTS if argument.get(name)]
    return ([heading for name, heading in filled if name not in REP_ONLY_ARGUMENT_FIELDS],
            [heading for name, heading in filled if name in REP_ONLY_ARGUMENT_FIELDS])


def _edit_page(form: ItemForm, found, status: int):
    """The item form, with what a buyer would see of its argument were it external."""
    seen, kept = buyer_view(_input(form).argument)
    return render_template("library/edit.html", form=form, item=found, buyer_sees=seen,
                           reps_only=kept, rep_only_names=[h for n, h, _ in ARGUMENT_PARTS
                                                           if n in REP_ONLY_ARGUMENT_FIELDS]), status


def _warn_if_now_external(before: str | None, saved) -> None:
    """Tell whoever just made an argument external what a buyer will see of it."""
    if saved.audience != "external" or before == "external" or not saved.has_argument:
        return
    seen, kept = buyer_view(saved.argument)
    message = ("Now external: a buyer it is shared with sees "
               + (", ".join(seen) if seen else "none of its argument's parts"))
    if kept:
        message += f"; never {', '.join(kept)}, which stay for reps"
    flash(message + ".", "info")


# Moves that change what reps and champions see are confirmed on a page of their own.
CONFIRMED_MOVES = ("published", "archived")


def _status_form(found, target: str) -> StatusForm:
    form = StatusForm(status=target)
    form.replaced_by.choices = as_choices(
        [("", "Nothing: it is simply withdrawn")]
        + [(i.slug, i.title) for i in item_service.replacement_choices(db.session, found)])
    return form


def _confirm_page(found, form: StatusForm, status: int = 200):
    return render_template("library/confirm_status.html", item=found, form=form,
                           target=form.status.data, verbs=item_service.TRANSITION_VERBS), status


@bp.get("/content/<slug>/status/<target>")
@requires("manage_content")
def confirm_status(slug: str, target: str):
    found = readable_item(slug)
    if target not in CONFIRMED_MOVES or target not in item_service.TRANSITIONS[found.status]:
        return redirect(url_for("library.item", slug=found.slug))
    form = _status_form(found, target)
    form.replaced_by.data = found.replaced_by.slug if found.replaced_by else ""
    return _confirm_page(found, form)


@bp.post("/content/<slug>/status")
@requires("manage_content")
def change_status(slug: str):
    found = readable_item(slug)
    form = _status_form(found, request.form.get("status", ""))
    if form.validate_on_submit():
        try:
            item_service.change_status(db.session, found, form.status.data, user(),
                                       form.note.data or "", form.replaced_by.data or None)
        except Invalid as exc:
            db.session.rollback()
            if form.status.data in CONFIRMED_MOVES:
                put_errors(form, exc)
                return _confirm_page(found, form, 400)
            flash(next(iter(exc.reasons.values())), "error")
        except Conflict as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash(f"Now {STATUS_NAMES[found.status].lower()}.", "success")
    return redirect(url_for("library.item", slug=found.slug))


@bp.get("/library")
@requires("view_library")
def library():
    text = request.args.get("q", "")
    health = (content_use.health_scores(db.session, date.today())
              if request.args.get("sort") == "health" else None)
    flt = catalog.LibraryFilter(
        ranked=content_use.weakest_first(health) if health else (),
        status=request.args.get("status") or None, type=request.args.get("type") or None,
        stage=request.args.get("stage") or None, text=text,
        matching=search_service.library_matches(db.session, backend(), text),
        stale_only=request.args.get("stale") == "1",
        page=page_number(request.args.get("page"), last=9_999),
    )
    cards, total = catalog.library_page(db.session, flt, date.today())
    pages = max(1, -(-total // flt.per_page))
    return render_template("library/library.html", cards=cards, total=total, flt=flt, pages=pages,
                           choices=catalog.taxonomy_choices(db.session), status_names=STATUS_NAMES,
                           health=health)


@bp.get("/content/<slug>/versions")
@requires("view_versions")
def versions(slug: str):
    found = readable_item(slug)
    return render_template("library/versions.html", item=found,
                           versions=list(reversed(found.versions)))


@bp.get("/content/<slug>/versions/<int:number>")
@requires("view_versions")
def version(slug: str, number: int):
    found = readable_item(slug)
    old = item_service.get_version(found, number)
    changes = item_service.compare(old.snapshot, item_service.snapshot(found),
                                   item_service.display_names(db.session))
    return render_template("library/version.html", item=found, version=old, changes=changes,
                           parts=ARGUMENT_PARTS, form=ConfirmForm(),
                           body_html=markdown_to_html(old.snapshot.get("body", "")))


@bp.get("/content/<slug>/versions/compare")
@requires("view_versions")
def compare_versions(slug: str):
    found = readable_item(slug)
    picked = sorted({request.args.get(k, type=int) for k in ("from", "to")} - {None})
    if len(picked) != 2:
        flash("Pick two different versions to compare.", "error")
        return redirect(url_for("library.versions", slug=found.slug))
    older, newer = (item_service.get_version(found, n) for n in picked)
    changes = item_service.compare(older.snapshot, newer.snapshot,
                                   item_service.display_names(db.session))
    return render_template("library/compare.html", item=found, older=older, newer=newer,
                           changes=changes)


@bp.post("/content/<slug>/versions/<int:number>/restore")
@requires("manage_content")
def restore(slug: str, number: int):
    found = readable_item(slug)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            item_service.restore_version(db.session, found, number, user())
        except Conflict as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash(f"Restored version {number} as version {found.version}.", "success")
    return redirect(url_for("library.item", slug=found.slug))
