"""The champion's deal room, the reps' invitations, and the page an invitation link opens."""

from __future__ import annotations

import logging
from datetime import date

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

from content_library import mail
from content_library.errors import Invalid, NotFound
from content_library.services import champions, deal_links
from content_library.services import users as user_service

from ..access import requires, user
from ..auth.routes import start_session
from ..errors import error_response
from ..extensions import db
from ..form_choices import choices
from ..forms_errors import put_errors
from ..library.forms import ConfirmForm
from ..numbers import LARGEST_ID, whole_number
from .forms import AcceptForm, InvitationForm

bp = Blueprint("champions", __name__)
log = logging.getLogger("portal.champions")

# The invitation's token is in the page's address: never send it on as a referrer.
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


@bp.get("/shared")
@login_required
def deal_room():
    me = user()
    if me.role != "champion":
        return redirect(url_for("stages.home"))
    room = champions.deal_room(db.session, me, date.today())
    return render_template("champions/deal_room.html", room=room)


# ---- a rep's invitations -------------------------------------------------------------------


def _deal_choices(form: InvitationForm) -> None:
    """The open deals matching the finder's words (a GET of the finder's own form), and the
    deal already picked, so a refused form keeps it."""
    if request.method == "GET":
        form.deal_filter.data = request.args.get("deal_filter", "")[:deal_links.MAX_FILTER]
    found = deal_links.open_deals(db.session, form.deal_filter.data or "")
    picked = whole_number(form.deal.data, 1, LARGEST_ID) if form.deal.data else None
    if picked and picked not in {d.id for d in found}:
        found = [*deal_links.chosen_deals(db.session, [picked]), *found]
    form.deal.choices = choices([("", "No deal"), *((str(d.id), d.label) for d in found)])
    form.deal_accounts = {str(d.id): d.account for d in found}


def _invitations_page(form: InvitationForm, status: int = 200):
    return render_template("champions/invitations.html", form=form,
                           sent=champions.invitations_sent(db.session, user()),
                           state=champions.state, states=champions.STATES,
                           confirm=ConfirmForm(), mails=bool(current_app.config["SMTP_URL"])), \
        status


@bp.route("/invitations", methods=["GET", "POST"])
@requires("invite_champions")
def invitations():
    form = InvitationForm()
    _deal_choices(form)
    if not form.validate_on_submit():
        return _invitations_page(form, 400 if request.method == "POST" else 200)
    data = champions.NewInvitation(
        email=form.email.data or "", name=form.name.data or "", company=form.company.data or "",
        deal_id=(whole_number(form.deal.data, 1, LARGEST_ID) or 0) if form.deal.data else None)
    try:
        invitation, token = champions.invite(db.session, user(), data)
    except Invalid as exc:
        put_errors(form, exc)
        return _invitations_page(form, 400)
    link = url_for("champions.accept", token=token, _external=True)
    config = current_app.config
    try:
        sent = mail.send(config["SMTP_URL"], config["MAIL_FROM"],
                         champions.invitation_letter(invitation, user(), link),
                         sender_name=f"{user().name} (enablement portal)")
    except mail.BadSmtpUrl as exc:  # a setting to fix; the link still works meanwhile
        log.warning("invitation not e-mailed: %s", exc)
        sent = False
    return render_template("champions/invitation_sent.html", invitation=invitation, sent=sent,
                           link=None if sent else link, mails=bool(config["SMTP_URL"]))


@bp.post("/invitations/<int:invitation_id>/revoke")
@requires("invite_champions")
def revoke(invitation_id: int):
    if ConfirmForm().validate_on_submit():
        invitation = champions.revoke(db.session, user(), invitation_id)
        if invitation.revoked_at is not None:
            flash(f"The invitation to {invitation.email} no longer works.", "success")
        else:
            flash(f"The invitation to {invitation.email} was no longer waiting: it is "
                  f"{champions.STATES[champions.state(invitation)].lower()}.", "info")
    return redirect(url_for("champions.invitations"))


# ---- the buyer's side of an invitation ---------------------------------------------------------


def _gone():
    return render_template("champions/invitation_gone.html"), 404, NO_REFERRER


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept(token: str):
    """No log-in: the link is the buyer's key. Choosing a password makes them a champion
    of the invited company, logs them in and opens their deal room."""
    try:
        invitation = champions.open_invitation(db.session, token, request.remote_addr or "unknown")
    except user_service.Throttled as exc:
        return error_response(429, str(exc), {"Retry-After": str(exc.retry_after), **NO_REFERRER})
    except NotFound:
        return _gone()
    form = AcceptForm()
    if request.method == "GET":
        form.name.data = invitation.name
    elif form.validate_on_submit():
        try:
            champion = champions.accept(db.session, invitation, form.name.data or "",
                                        form.password.data or "")
        except NotFound:
            return _gone()
        except Invalid as exc:
            if "email" in exc.reasons:
                form.form_errors = [f"An account for {invitation.email} already exists: log in "
                                    "with it instead."]
                exc.reasons.pop("email")
            put_errors(form, exc)
        else:
            start_session(champion)
            flash(f"Welcome, {champion.name}: this is your deal room.", "success")
            return redirect(url_for("champions.deal_room"))
    status = 400 if request.method == "POST" else 200
    return render_template("champions/accept.html", form=form, invitation=invitation), status, \
        NO_REFERRER
