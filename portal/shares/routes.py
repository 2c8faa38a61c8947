"""The rep's pages: share items, follow what the buyer did, extend or revoke a link; and
everyone's notifications."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import login_required

from content_library.errors import Invalid, NotAllowed, NotFound
from content_library.models import ContentItem, Deal
from content_library.services import deal_links, notifications, share_links

from ..access import user
from ..extensions import db
from ..form_choices import choices
from ..forms_errors import expired, put_errors
from ..library.forms import ConfirmForm
from ..numbers import LARGEST_ID, whole_number
from ..security import is_local_path
from . import send, smtp_configured
from .forms import ExtendForm, ShareForm

bp = Blueprint("shares", __name__)

# The share form's fields by the service's names for them.
FIELDS = {"content": "items"}
NEW_LINK = "new_share_link"  # the session key that carries a new link's URL to its page, once


def sharers_only(view):
    """Logged in, and a role that shares (403 for a champion)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not share_links.may_share(user()):
            raise NotAllowed("share")
        return view(*args, **kwargs)

    return login_required(wrapper)


def _days(text: str | None) -> int | None:
    """The number of days typed, or None when it is not a whole number (the service says so)."""
    return whole_number((text or "").strip(), 0, 10**6)


# ---- sharing ----------------------------------------------------------------------------------


def _offered(slugs: list[str]) -> tuple[list[ContentItem], int]:
    """The items named that the rep may read, once each, and how many named nothing they may
    read (a missing item and a hidden one are counted alike)."""
    found, missing = [], 0
    for slug in dict.fromkeys(s for s in slugs if s):
        try:
            found += share_links.readable_items(db.session, user(), [slug])
        except NotFound:
            missing += 1
    return found, missing


def _deal_label(deal: Deal) -> str:
    return deal_links.DealChoice(deal.id, deal.name, deal.account, deal.stage).label


def _fill_deals(form: ShareForm, text: str) -> None:
    """No deal, then the open deals matching `text` (the "used in deal" picker's list); the
    deal already chosen stays offered whatever the filter."""
    pairs = [("", "No deal")] + [(str(d.id), d.label)
                                 for d in deal_links.open_deals(db.session, text)]
    chosen = whole_number(form.deal.data or "", 1, LARGEST_ID)
    if chosen and str(chosen) not in dict(pairs):
        deal = db.session.get(Deal, chosen)
        if deal is not None and not deal.is_closed:
            pairs.insert(1, (str(deal.id), _deal_label(deal)))
    form.deal.choices = choices(pairs)


def _chosen_deal(value: str | None) -> Deal | None:
    if not value:
        return None
    return deal_links.open_deal(db.session, whole_number(value, 1, LARGEST_ID))


def _share(form: ShareForm):
    """Check the form and the service's rules together, so a refused form names every
    problem at once; share when all pass. Returns a redirect, or None with the errors put
    on the form."""
    form_ok = form.validate()
    if expired(form):
        return None
    reasons: dict[str, str] = {}
    deal = None
    try:
        deal = _chosen_deal(form.deal.data)
    except Invalid as exc:
        reasons.update(exc.reasons)
    data = share_links.ShareRequest(
        content=tuple(form.items.data or ()), recipient=form.recipient.data or "",
        expires_in_days=_days(form.expires_in_days.data), deal=deal,
        note=form.note.data or "", allow_downloads=bool(form.allow_downloads.data))
    try:
        items = share_links.readable_items(db.session, user(), data.content)
    except NotFound:
        reasons["content"] = "One of these items is no longer available: tick the items again."
    else:
        reasons = {**share_links.problems(items, data), **reasons}
    if reasons or not form_ok:
        put_errors(form, Invalid(reasons), FIELDS)
        return None
    link, token = share_links.create(db.session, user(), data)
    url = url_for("buyer.landing", token=token, _external=True)
    emailed = None
    if smtp_configured() and form.send_email.data:
        emailed = send(share_links.share_letter(link, url), sender_name=user().name)
    session[NEW_LINK] = {"id": link.id, "url": url}
    if emailed:
        flash(f"Shared: the link is on its way to {link.recipient_email}.", "success")
    elif emailed is False:
        flash("Shared, but the e-mail could not be sent: copy the link below and send it "
              "yourself.", "error")
    else:
        flash(f"Shared: copy the link below and send it to {link.recipient_email}.", "success")
    return redirect(url_for("shares.detail", share_id=link.id))


@bp.route("/shares/new", methods=["GET", "POST"])
@sharers_only
def new():
    form = ShareForm()
    posted = request.method == "POST"
    # Everything the form offered stays offered when it comes back refused, ticked or not.
    slugs = request.form.getlist("offered") if posted else request.args.getlist("item")
    offered, missing = _offered(slugs[: share_links.MAX_ITEMS * 2])
    shareable = [i for i in offered if share_links.is_shareable(i)]
    form.items.choices = choices((i.slug, i.title) for i in shareable)
    if not posted:
        form.items.data = [i.slug for i in shareable]
        form.deal.data = request.args.get("deal", "")
    finding = posted and request.form.get("action") == "find-deal"
    _fill_deals(form, (form.deal_q.data or "")[: deal_links.MAX_FILTER] if finding else "")
    status = 200
    if posted and not finding:
        done = _share(form)
        if done is not None:
            return done
        status = 400
    refused = [share_links.why_not_shareable(i) for i in offered
               if not share_links.is_shareable(i)]
    return render_template("shares/new.html", form=form, offered=shareable, refused=refused,
                           missing=missing, smtp=smtp_configured()), status


# ---- following a link -------------------------------------------------------------------------


@bp.get("/shares")
@sharers_only
def mine():
    links = share_links.my_links(db.session, user())
    return render_template("shares/mine.html", links=links, state=share_links.state)


def _detail_page(link, extend_form: ExtendForm | None = None, status: int = 200):
    new = session.get(NEW_LINK)
    url = None
    if isinstance(new, dict) and new.get("id") == link.id:
        url = session.pop(NEW_LINK)["url"]  # shown once: only its hash is kept
    return render_template(
        "shares/detail.html", link=link, url=url, state=share_links.state(link),
        shown={i.id for i in share_links.visible_items(link)},
        activity=share_links.activity(db.session, link),
        extend_form=extend_form or ExtendForm(formdata=None), confirm=ConfirmForm(),
        can_undo=share_links.can_undo_revoke(link)), status


@bp.get("/shares/<int:share_id>")
@sharers_only
def detail(share_id: int):
    return _detail_page(share_links.link_for(db.session, user(), share_id))


@bp.route("/shares/<int:share_id>/revoke", methods=["GET", "POST"])
@sharers_only
def revoke(share_id: int):
    link = share_links.link_for(db.session, user(), share_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        share_links.revoke(db.session, user(), link.id)
        flash("Revoked: the link and every download through it now answer “not available”. "
              f"Changed your mind? Undo within {share_links.UNDO_WINDOW.seconds // 60} minutes.",
              "success")
        return redirect(url_for("shares.detail", share_id=link.id))
    return render_template("shares/revoke.html", link=link, form=form,
                           undo_minutes=share_links.UNDO_WINDOW.seconds // 60), \
        400 if request.method == "POST" else 200


@bp.post("/shares/<int:share_id>/undo")
@sharers_only
def undo_revoke(share_id: int):
    link = share_links.link_for(db.session, user(), share_id)
    if ConfirmForm().validate_on_submit():
        try:
            share_links.undo_revoke(db.session, user(), link.id)
        except Invalid as exc:
            flash(str(exc), "error")
        else:
            flash("Undone: the link works again.", "success")
    return redirect(url_for("shares.detail", share_id=link.id))


@bp.post("/shares/<int:share_id>/extend")
@sharers_only
def extend(share_id: int):
    link = share_links.link_for(db.session, user(), share_id)
    form = ExtendForm()
    if form.validate():
        try:
            share_links.extend(db.session, user(), link.id, _days(form.expires_in_days.data))
        except Invalid as exc:
            put_errors(form, exc)
        else:
            flash(f"The link now works until {link.expires_at:%d %B %Y, %H:%M} UTC.", "success")
            return redirect(url_for("shares.detail", share_id=link.id))
    return _detail_page(link, form, 400)


# ---- notifications ----------------------------------------------------------------------------


@bp.get("/notifications")
@login_required
def notifications_page():
    """Opening the page is reading them: the ones it shows are marked read."""
    shown = notifications.latest(db.session, user())
    unread = {n.id for n in shown if n.read_at is None}
    notifications.mark_read(db.session, user(), shown)
    return render_template("shares/notifications.html", shown=shown, unread=unread,
                           local=is_local_path)
