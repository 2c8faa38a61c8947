from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from content_library.errors import Invalid
from content_library.services import users as user_service

from ..extensions import db
from ..forms_errors import put_errors
from ..security import safe_next
from .forms import ChangePasswordForm, LoginForm, LogoutForm

bp = Blueprint("auth", __name__)


def home_for(user) -> str:
    return url_for("stages.home") if user.role != "champion" else url_for("champions.deal_room")


def start_session(user) -> None:
    """Log this person in on a fresh session: nothing from before carries over."""
    session.clear()
    login_user(user)
    session["login_at"] = time.time()
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 200
    headers = {}
    if form.validate_on_submit():
        address = request.remote_addr or "unknown"
        try:
            user = user_service.authenticate(db.session, form.email.data, form.password.data, address)
        except user_service.Throttled as exc:
            form.password.errors = [str(exc)]
            status, headers = 429, {"Retry-After": str(exc.retry_after)}
        except user_service.AccountInactive:
            form.password.errors = ["This account is inactive: ask an administrator to "
                                    "reactivate it."]
            status = 403
        else:
            if user is None:
                form.password.errors = ["That e-mail and password do not match an account."]
                status = 401
            else:
                start_session(user)
                return redirect(safe_next(form.next.data, home_for(user)))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status, headers


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        user_service.end_sessions(db.session, current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user_service.change_password(db.session, current_user._get_current_object(),
                                         form.current_password.data, form.new_password.data)
        except Invalid as exc:
            put_errors(form, exc, {"password": "new_password"})
        else:
            logout_user()
            session.clear()
            flash("Password changed: log in again with the new one.", "success")
            return redirect(url_for("auth.login"))
    me = current_user._get_current_object()
    return render_template("auth/account.html", form=form, token_form=LogoutForm(),
                           tokens=user_service.live_tokens(db.session, me),
                           token_days=current_app.config["API_TOKEN_DAYS"]), \
        400 if form.errors else 200


@bp.post("/account/token")
@login_required
def new_token():
    """A new API token, shown on this one page and never again (only its hash is kept)."""
    form = LogoutForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.account"))
    token = user_service.issue_token(db.session, current_user.email,
                                     current_app.config["API_TOKEN_DAYS"])
    return render_template("auth/token.html", token=token)


@bp.post("/account/tokens/revoke")
@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_tokens(token_id: int | None = None):
    if LogoutForm().validate_on_submit():
        count = user_service.revoke_tokens(db.session, current_user._get_current_object(),
                                           token_id)
        flash(f"Revoked {count} API token{'s' if count != 1 else ''}.", "success")
    return redirect(url_for("auth.account"))
