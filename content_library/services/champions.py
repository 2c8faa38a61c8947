"""Champions: the deal room a buyer lands in, and the invitations that make them a champion.

A rep invites a buyer (e-mail, name, company, optionally one of the open deals, whose account
is then the company). The invitation is a single-use link, stored as the SHA-256 of its
token, that expires; following it the buyer chooses a password and becomes a champion of
that company. What a champion may read is `visibility`'s to say; this module only arranges
it: the share links meant for them, by deal, then the template library.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import visibility
from ..database import begin_write
from ..errors import Invalid, NotFound
from ..mail import Letter
from ..models import (
    ChampionInvitation,
    ContentItem,
    ContentType,
    Deal,
    ShareLink,
    User,
    share_link_items,
    utcnow,
)
from ..records import ItemCard
from . import users as user_service
from .catalog import card, with_tags

INVITATION_DAYS = 14
STATES = {"pending": "Waiting", "accepted": "Accepted", "expired": "Expired",
          "revoked": "Revoked"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---- the deal room -------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedBatch:
    """One share link as the champion sees it: who sent it, their note, what it holds."""

    rep: str
    note: str
    shared_at: datetime
    expires_at: datetime
    cards: tuple[ItemCard, ...]


@dataclass(frozen=True)
class DealShares:
    deal: str | None  # the deal's name, nothing else of it; None: sent outside any deal
    batches: tuple[SharedBatch, ...]


@dataclass(frozen=True)
class DealRoom:
    deals: tuple[DealShares, ...]  # the deal with the newest share first
    templates: tuple[ItemCard, ...]

    @property
    def empty(self) -> bool:
        return not self.deals and not self.templates


def buyer_card(item: ContentItem, today: date) -> ItemCard:
    """An item's card for a buyer: without the staff's freshness mark."""
    return card(item, today, buyer=True)


def deal_room(session: Session, user: User, today: date) -> DealRoom:
    """What reps shared with this champion or their company, grouped by deal, newest first,
    each share with the rep's name and note; then the template library."""
    shares = list(session.scalars(
        select(ShareLink).where(ShareLink.id.in_(visibility.live_shares_for(user)))
        .options(selectinload(ShareLink.created_by), selectinload(ShareLink.deal))
        .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())))
    on_shares = select(share_link_items.c.item_id).where(
        share_link_items.c.share_id.in_([share.id for share in shares]))
    readable = {item.id: item for item in session.scalars(with_tags(select(ContentItem).where(
        visibility.published_filter(user), ContentItem.id.in_(on_shares))))}
    groups: dict[int | None, list[SharedBatch]] = {}
    names: dict[int | None, str | None] = {}
    for share in shares:
        items = [readable[item.id] for item in share.items if item.id in readable]
        if not items:
            continue
        key = share.deal_id
        names[key] = share.deal.name if share.deal is not None else None
        groups.setdefault(key, []).append(SharedBatch(
            rep=share.created_by.name, note=share.note, shared_at=share.created_at,
            expires_at=share.expires_at, cards=tuple(buyer_card(i, today) for i in items)))
    deals = tuple(DealShares(names[key], tuple(batches)) for key, batches in groups.items())
    return DealRoom(deals=deals, templates=tuple(template_library(session, user, today)))


def template_library(session: Session, user: User, today: date) -> list[ItemCard]:
    """The published external items whose file is a template, by type and title."""
    stmt = with_tags(select(ContentItem).join(ContentItem.type).where(
        visibility.published_filter(user), ContentItem.audience == "external",
        ContentItem.file_id.in_(visibility.template_file_ids()))
        .order_by(ContentType.position, ContentItem.title))
    return [buyer_card(item, today) for item in session.scalars(stmt)]


def granting_share(session: Session, user: User | None, item: ContentItem) -> ShareLink | None:
    """The newest live share link that gave this champion the item; None for anyone else,
    or for an item they read from the template library alone."""
    if user is None or user.role != "champion" or item.id is None:
        return None
    return session.scalars(
        select(ShareLink).join(share_link_items, share_link_items.c.share_id == ShareLink.id)
        .where(share_link_items.c.item_id == item.id,
               ShareLink.id.in_(visibility.live_shares_for(user)))
        .order_by(ShareLink.created_at.desc(), ShareLink.id.desc()).limit(1)).first()


# ---- invitations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInvitation:
    email: str
    name: str = ""
    company: str = ""
    deal_id: int | None = None


def state(invitation: ChampionInvitation, now: datetime | None = None) -> str:
    if invitation.used_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= (now or utcnow()):
        return "expired"
    return "pending"


def _open_deal(session: Session, deal_id: int | None) -> Deal | None:
    if deal_id is None:
        return None
    deal = session.get(Deal, deal_id) if 0 < deal_id < 2**31 else None
    if deal is None or deal.is_closed:
        raise Invalid({"deal": "Pick one of the open deals: this one is closed or no longer "
                               "in the CRM export."})
    return deal


def invitation_problems(session: Session, data: NewInvitation) -> dict[str, str]:
    problems: dict[str, str] = {}
    email = user_service.normalise_email(data.email)
    if not user_service.EMAIL.match(email) or len(email) > 254:
        problems["email"] = "Enter the buyer's e-mail address, like name@company.com."
    elif user_service.find_by_email(session, email) is not None:
        problems["email"] = ("This e-mail already has an account here: share with it directly "
                             "instead (ask an administrator if it is not a champion's).")
    if len(data.name.strip()) > 200:
        problems["name"] = "Use at most 200 characters."
    try:
        deal = _open_deal(session, data.deal_id)
    except Invalid as exc:
        problems.update(exc.reasons)
        deal = None
    company = data.company.strip() or (deal.account.strip() if deal else "")
    if not company:
        problems["company"] = "Enter the buyer's company, or pick their deal."
    elif len(company) > 200:
        problems["company"] = "Use at most 200 characters."
    return problems


def invite(session: Session, rep: User, data: NewInvitation,
           days: int = INVITATION_DAYS) -> tuple[ChampionInvitation, str]:
    """A new invitation and its token (shown or sent once: only its hash is kept). An
    earlier invitation to the same e-mail that is still waiting stops working."""
    visibility.require(rep, "invite_champions")
    begin_write(session)
    problems = invitation_problems(session, data)
    if problems:
        session.rollback()
        raise Invalid(problems)
    deal = _open_deal(session, data.deal_id)
    email = user_service.normalise_email(data.email)
    now = utcnow()
    for earlier in session.scalars(select(ChampionInvitation).where(
            ChampionInvitation.email == email, ChampionInvitation.used_at.is_(None),
            ChampionInvitation.revoked_at.is_(None), ChampionInvitation.expires_at > now)):
        earlier.revoked_at = now
    token = secrets.token_urlsafe(32)  # 256 bits
    invitation = ChampionInvitation(
        token_hash=token_hash(token), email=email, name=data.name.strip(),
        company=data.company.strip() or (deal.account.strip() if deal else ""),
        deal_id=deal.id if deal else None, invited_by_id=rep.id, created_at=now,
        expires_at=now + timedelta(days=days))
    session.add(invitation)
    session.commit()
    return invitation, token


def invitation_letter(invitation: ChampionInvitation, rep: User, link: str) -> Letter:
    greeting = f"Hello {invitation.name}," if invitation.name else "Hello,"
    text = (f"{greeting}\n\n{rep.name} invited you to a deal room for {invitation.company}: "
            "the material they share with you, and business-case templates you can fill in "
            "with your own figures.\n\n"
            f"Choose your password here (the link works once, until "
            f"{invitation.expires_at:%d %B %Y}):\n\n{link}\n\n"
            f"If you did not expect this, ignore it or write to {rep.email}.\n")
    return Letter(to=invitation.email, subject=f"{rep.name} invited you to your deal room",
                  text=text, reply_to=rep.email)


def invitations_sent(session: Session, rep: User) -> list[ChampionInvitation]:
    """A rep's invitations, newest first; a manager's or admin's: everyone's."""
    stmt = select(ChampionInvitation).options(selectinload(ChampionInvitation.deal),
                                              selectinload(ChampionInvitation.invited_by))
    if rep.role not in visibility.MANAGE_ROLES:
        stmt = stmt.where(ChampionInvitation.invited_by_id == rep.id)
    return list(session.scalars(stmt.order_by(ChampionInvitation.created_at.desc(),
                                              ChampionInvitation.id.desc()).limit(200)))


def revoke(session: Session, rep: User, invitation_id: int) -> ChampionInvitation:
    """Stop a waiting invitation's link; someone else's (unless a manager's) is NotFound."""
    visibility.require(rep, "invite_champions")
    invitation = session.get(ChampionInvitation, invitation_id) if 0 < invitation_id < 2**31 else None
    if invitation is None or (invitation.invited_by_id != rep.id
                              and rep.role not in visibility.MANAGE_ROLES):
        raise NotFound(invitation_id)
    if state(invitation) == "pending":
        begin_write(session)
        invitation.revoked_at = utcnow()
        session.commit()
    return invitation


def open_invitation(session: Session, token: str, client: str) -> ChampionInvitation:
    """The waiting invitation this token opens. A wrong, used, revoked or expired one is
    NotFound, and counts as a guess from this client: after too many, Throttled (the
    log-in throttle's rule, on a key of its own)."""
    attempt = user_service.count_guess(session, f"invitation:{client}")
    found = None
    if token and len(token) <= 200:
        found = session.scalar(select(ChampionInvitation).where(
            ChampionInvitation.token_hash == token_hash(token)))
    if found is None or state(found) != "pending":
        raise NotFound("invitation")
    user_service.forgive(session, attempt)
    return found


def accept(session: Session, invitation: ChampionInvitation, name: str, password: str) -> User:
    """Make the invited buyer a champion of the invitation's company, and use it up: both or
    neither. Raises Invalid for a refused name or password, NotFound when the invitation
    stopped working meanwhile."""
    begin_write(session)
    current = session.scalar(select(ChampionInvitation).where(
        ChampionInvitation.id == invitation.id).with_for_update())
    if current is None or state(current) != "pending":
        session.rollback()
        raise NotFound("invitation")
    user = user_service.add_user(session, user_service.NewUser(
        email=current.email, name=name, role="champion", password=password,
        company=current.company))
    session.flush()
    current.used_at = utcnow()
    current.user_id = user.id
    session.commit()
    return user
