from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from content_library.errors import Invalid, NotFound
from content_library.models import TAG_MODELS, User
from content_library.services import taxonomy as taxonomy_service
from content_library.services import users as user_service
from content_library.services.items import slugify

from ..access import requires, user
from ..extensions import db
from ..forms_errors import put_errors, validate_all
from ..library.forms import ConfirmForm
from .forms import EditUserForm, NewUserForm, TagForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@requires("manage_users")
def users():
    people = db.session.scalars(select(User).order_by(User.role, User.name)).all()
    return render_template("admin/users.html", people=people)


@bp.route("/users/new", methods=["GET", "POST"])
@requires("manage_users")
def new_user():
    form = NewUserForm()
    data = user_service.NewUser(email=form.email.data or "", name=form.name.data or "",
                                role=form.role.data or "", password=form.password.data or "",
                                company=form.company.data or "")
    if validate_all(form, lambda: user_service.validate_new_user(db.session, data)):
        try:
            created = user_service.create_user(db.session, data)
        except Invalid as exc:
            put_errors(form, exc)
        else:
            flash(f"Created {created.name} ({created.role_name}).", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_new.html", form=form), 400 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires("manage_users")
def edit_user(user_id: int):
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound(user_id)
    form = EditUserForm(obj=person if request.method == "GET" else None)
    if validate_all(form, lambda: user_service.validate_edit(
            person, name=form.name.data or "", role=form.role.data or "",
            company=form.company.data or "", new_password=form.new_password.data or ""),
            {"password": "new_password"}):
        if person.id == user().id and (form.role.data != "admin" or not form.active.data):
            form.role.errors = ["You cannot remove your own admin rights or deactivate yourself."]
        else:
            try:
                user_service.update_user(db.session, person, name=form.name.data,
                                         role=form.role.data, active=form.active.data,
                                         company=form.company.data or "",
                                         new_password=form.new_password.data or "")
            except Invalid as exc:
                put_errors(form, exc, {"password": "new_password"})
            else:
                flash(f"Saved {person.name}.", "success")
                return redirect(url_for("admin.users"))
    return render_template("admin/user_edit.html", form=form, person=person,
                           token_form=ConfirmForm(),
                           tokens=user_service.live_tokens(db.session, person)), \
        400 if form.errors else 200


@bp.post("/users/<int:user_id>/tokens/revoke")
@bp.post("/users/<int:user_id>/tokens/<int:token_id>/revoke")
@requires("manage_users")
def revoke_tokens(user_id: int, token_id: int | None = None):
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound(user_id)
    if ConfirmForm().validate_on_submit():
        count = user_service.revoke_tokens(db.session, person, token_id)
        flash(f"Revoked {count} API token{'s' if count != 1 else ''} of {person.name}.", "success")
    return redirect(url_for("admin.edit_user", user_id=person.id))


def _kind_or_404(kind: str) -> str:
    if kind not in TAG_MODELS:
        abort(404)
    return kind


@bp.get("/taxonomy")
@requires("manage_taxonomy")
def taxonomy():
    kinds = {kind: taxonomy_service.ordered(db.session, kind) for kind in TAG_MODELS}
    return render_template("admin/taxonomy.html", kinds=kinds, names=taxonomy_service.KIND_NAMES,
                           form=ConfirmForm())


def _entry(form: TagForm, kind: str) -> dict:
    entry = {"slug": (form.slug.data or "").strip() or slugify(form.name.data or ""),
             "name": form.name.data or "",
             "description": form.description.data or ""}
    if kind == "stages":
        entry.update(phase=form.phase.data, buyer_goal=form.buyer_goal.data or "",
                     exit_criteria=[ln.strip() for ln in (form.exit_criteria.data or "").splitlines()
                                    if ln.strip()])
    return entry


@bp.route("/taxonomy/<kind>/new", methods=["GET", "POST"])
@bp.route("/taxonomy/<kind>/<slug>", methods=["GET", "POST"])
@requires("manage_taxonomy")
def edit_tag(kind: str, slug: str | None = None):
    kind = _kind_or_404(kind)
    tag = None
    if slug:
        tag = next((t for t in taxonomy_service.ordered(db.session, kind) if t.slug == slug), None)
        if tag is None:
            abort(404)
    form = TagForm()
    if request.method == "GET" and tag is not None:
        form.slug.data, form.name.data, form.description.data = tag.slug, tag.name, tag.description
        if kind == "stages":
            form.phase.data, form.buyer_goal.data = tag.phase, tag.buyer_goal
            form.exit_criteria.data = "\n".join(tag.exit_criteria or [])
    if validate_all(form, lambda: taxonomy_service.validate_tag(kind, _entry(form, kind))):
        try:
            taxonomy_service.save_tag(db.session, kind, _entry(form, kind), original_slug=slug)
        except Invalid as exc:
            put_errors(form, exc)
        else:
            flash(f"Saved “{form.name.data}”.", "success")
            return redirect(url_for("admin.taxonomy") + f"#{kind}")
    return render_template("admin/tag_edit.html", form=form, kind=kind, tag=tag,
                           kind_name=taxonomy_service.KIND_NAMES[kind]), 400 if form.errors else 200


@bp.post("/taxonomy/<kind>/<slug>/move")
@requires("manage_taxonomy")
def move_tag(kind: str, slug: str):
    kind = _kind_or_404(kind)
    if ConfirmForm().validate_on_submit():
        taxonomy_service.move_tag(db.session, kind, slug, -1 if request.form.get("up") else 1)
    return redirect(url_for("admin.taxonomy") + f"#{kind}")


@bp.post("/taxonomy/<kind>/<slug>/delete")
@requires("manage_taxonomy")
def delete_tag(kind: str, slug: str):
    kind = _kind_or_404(kind)
    if ConfirmForm().validate_on_submit():
        try:
            taxonomy_service.delete_tag(db.session, kind, slug)
        except Invalid as exc:
            flash(next(iter(exc.reasons.values())), "error")
        else:
            flash(f"Deleted '{slug}'.", "success")
    return redirect(url_for("admin.taxonomy") + f"#{kind}")
