"""Share links: a rep sends a buyer published external items through a link that needs no
log-in, and the buyer's opens, views and downloads come back to the rep as activity.

The token (256 bits from `secrets`) is in the link and nowhere else: only its SHA-256 is
stored, as for API tokens. A link opens its items until it expires, is revoked, or its rep is
deactivated (`ShareLink.is_live`); an item archived, unpublished or made internal after
sharing drops out of the link at once (`visible_items`). Every way a link fails looks the
same from outside: NotFound.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, selectinload

from .. import visibility
from ..database import begin_write
from ..errors import Invalid, NotAllowed, NotFound
from ..mail import Letter
from ..models import (
    SHARE_DAYS_MAX,
    SHARE_DAYS_MIN,
    ContentItem,
    Deal,
    Notification,
    ShareLink,
    UsageEvent,
    User,
    share_link_items,
    utcnow,
)
from . import throttle, usage
from .items import get_item
from .users import EMAIL, normalise_email

TOKEN_BYTES = 32  # 256 bits: at least the 128 the security brief asks for
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")
DEFAULT_DAYS = 14
MAX_ITEMS = 50
MAX_NOTE = 1_000
# A revoked link can be brought back this long after revoking, while it has not expired: the
# rep who revoked the wrong link undoes it without sending a new one.
UNDO_WINDOW = timedelta(minutes=10)
# Requests to share pages per client address within throttle.WINDOW (15 minutes): a buyer
# reading and downloading never comes near it. Forged, expired and revoked links count on
# their own, far lower, limit: guessing tokens stops after a few tries.
OPEN_LIMIT = 300
MISS_LIMIT = 20
BUYER_KINDS = ("share_open", "view", "download", "template_generated")


@dataclass(frozen=True)
class ShareRequest:
    """What a rep asks to share, as typed or sent: checked by `problems`."""

    content: tuple[str, ...]
    recipient: str
    expires_in_days: int | None
    deal: Deal | None = None
    note: str = ""
    allow_downloads: bool = True


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_share(user: User | None) -> bool:
    """Reps, managers and admins share; a champion is the buyer's side and never does."""
    return visibility.may(user, "use_in_deal")


def is_shareable(item: ContentItem) -> bool:
    return item.status == "published" and item.audience == "external"


def why_not_shareable(item: ContentItem) -> str | None:
    if item.status != "published":
        return f"“{item.title}” ({item.slug}) is not published: only published items can be shared."
    if item.audience != "external":
        return (f"“{item.title}” ({item.slug}) is internal (staff only): only external items "
                "can be shared.")
    return None


def readable_items(session: Session, user: User, slugs: Sequence[str]) -> list[ContentItem]:
    """The items these slugs name, once each in the order given. A slug the person may not
    read raises NotFound, exactly as one that names nothing."""
    found, seen = [], set()
    for slug in slugs:
        if slug in seen:
            continue
        seen.add(slug)
        try:
            item = get_item(session, slug) if isinstance(slug, str) and len(slug) <= 120 else None
        except NotFound:
            item = None
        if item is None or not visibility.can_read(user, item):
            raise NotFound(slug)
        found.append(item)
    return found


def problems(items: Sequence[ContentItem], data: ShareRequest) -> dict[str, str]:
    """Every reason the share would be refused, by field (the API's names)."""
    reasons: dict[str, str] = {}
    if not items:
        reasons["content"] = "Choose at least one item to share."
    elif len(items) > MAX_ITEMS:
        reasons["content"] = f"Share at most {MAX_ITEMS} items in one link."
    else:
        refused = [why for why in map(why_not_shareable, items) if why]
        if refused:
            reasons["content"] = " ".join(refused)
    recipient = normalise_email(data.recipient)
    if not EMAIL.match(recipient) or len(recipient) > 254:
        reasons["recipient"] = "Enter the recipient's e-mail address, like name@company.com."
    days = data.expires_in_days
    if isinstance(days, bool) or not isinstance(days, int) or \
            not SHARE_DAYS_MIN <= days <= SHARE_DAYS_MAX:
        reasons["expires_in_days"] = (f"Choose how many days the link works: a whole number "
                                      f"from {SHARE_DAYS_MIN} to {SHARE_DAYS_MAX}.")
    if len(data.note or "") > MAX_NOTE:
        reasons["note"] = f"Keep the note to {MAX_NOTE:,} characters."
    return reasons


def _now(now: datetime | None) -> datetime:
    return (now or utcnow()).replace(microsecond=0)


def create(session: Session, user: User, data: ShareRequest,
           now: datetime | None = None) -> tuple[ShareLink, str]:
    """Make the link; returns it and its token, which is never seen again. Records a `share`
    usage event per item, with the rep and the deal. Raises NotAllowed for a champion,
    NotFound for an item the rep may not read, Invalid with the reasons otherwise."""
    if not may_share(user):
        raise NotAllowed("share")
    items = readable_items(session, user, data.content)
    reasons = problems(items, data)
    if reasons:
        raise Invalid(reasons)
    now = _now(now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    deal = data.deal
    begin_write(session)
    link = ShareLink(token_hash=token_hash(token), created_by_id=user.id,
                     deal_id=deal.id if deal else None,
                     recipient_email=normalise_email(data.recipient),
                     company=deal.account if deal else "", note=(data.note or "").strip(),
                     allow_downloads=bool(data.allow_downloads), created_at=now,
                     expires_at=now + timedelta(days=data.expires_in_days))
    session.add(link)
    session.flush()
    session.execute(insert(share_link_items), [
        {"share_id": link.id, "item_id": item.id, "position": position}
        for position, item in enumerate(items)])
    session.add_all(UsageEvent(kind="share", item_id=item.id, item_slug=item.slug,
                               user_id=user.id, role=user.role,
                               deal_id=deal.id if deal else None,
                               stage=deal.stage if deal else None, occurred_at=now,
                               details={"share": link.id})
                    for item in items)
    session.commit()
    return link, token


# ---- the rep's side ----------------------------------------------------------------------------


def link_for(session: Session, user: User, share_id: int) -> ShareLink:
    """A link its rep (or a manager or admin) may look after; anyone else's is NotFound."""
    if not may_share(user):
        raise NotAllowed("share")
    link = session.get(ShareLink, share_id) if 0 < share_id < 2**31 else None
    if link is None or not (link.created_by_id == user.id or user.is_manager):
        raise NotFound(share_id)
    return link


def my_links(session: Session, user: User) -> list[ShareLink]:
    """The person's links, newest first, with their items and deals."""
    return list(session.scalars(
        select(ShareLink).where(ShareLink.created_by_id == user.id)
        .options(selectinload(ShareLink.items), selectinload(ShareLink.deal))
        .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())))


def state(link: ShareLink, now: datetime | None = None) -> str:
    """"live", "revoked", "expired" or "dead" (its rep was deactivated), in that order."""
    now = now or utcnow()
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    return "live" if link.is_live(now) else "dead"


def revoke(session: Session, user: User, share_id: int, now: datetime | None = None) -> ShareLink:
    """End the link at once (a link already revoked stays as it was)."""
    link = link_for(session, user, share_id)
    if link.revoked_at is None:
        begin_write(session)
        link.revoked_at = _now(now)
        session.commit()
    return link


def can_undo_revoke(link: ShareLink, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (link.revoked_at is not None and now - link.revoked_at <= UNDO_WINDOW
            and link.expires_at > now)


def undo_revoke(session: Session, user: User, share_id: int,
                now: datetime | None = None) -> ShareLink:
    link = link_for(session, user, share_id)
    if link.revoked_at is None:
        return link
    if not can_undo_revoke(link, now):
        raise Invalid("It is too late to undo: the link was revoked more than "
                      f"{int(UNDO_WINDOW.total_seconds() // 60)} minutes ago, or has expired. "
                      "Share the items again for a new link.")
    begin_write(session)
    link.revoked_at = None
    session.commit()
    return link


def extend(session: Session, user: User, share_id: int, days: int | None,
           now: datetime | None = None) -> ShareLink:
    """A new expiry, `days` from now (1 to 90), for a link that is not revoked: an expired
    link works again."""
    link = link_for(session, user, share_id)
    if isinstance(days, bool) or not isinstance(days, int) or \
            not SHARE_DAYS_MIN <= days <= SHARE_DAYS_MAX:
        raise Invalid({"expires_in_days": f"Choose a whole number of days from {SHARE_DAYS_MIN} "
                                          f"to {SHARE_DAYS_MAX}."})
    if link.revoked_at is not None:
        raise Invalid("This link was revoked: share the items again for a new link.")
    begin_write(session)
    link.expires_at = _now(now) + timedelta(days=days)
    session.commit()
    return link


@dataclass(frozen=True)
class Activity:
    """One thing the buyer did through a link: "open" (the link's page, with the items it
    showed then), "view" (an item's page) or "download" (an item's file)."""

    at: datetime
    kind: str
    items: tuple[str, ...]


_ACTIVITY_KINDS = {"share_open": "open", "view": "view", "download": "download",
                   "template_generated": "filled"}


def activity(session: Session, link: ShareLink, limit: int = 500) -> list[Activity]:
    """What the buyer did through the link, newest first."""
    item_ids = [item.id for item in link.items]
    if not item_ids:
        return []
    rows = session.execute(
        select(UsageEvent.occurred_at, UsageEvent.kind, UsageEvent.item_slug, ContentItem.title)
        .outerjoin(ContentItem, ContentItem.id == UsageEvent.item_id)
        .where(UsageEvent.item_id.in_(item_ids), UsageEvent.kind.in_(BUYER_KINDS),
               UsageEvent.occurred_at >= link.created_at,
               UsageEvent.details["share"].as_integer() == link.id)
        .order_by(UsageEvent.occurred_at.desc(), UsageEvent.id)
        .limit(limit * 5))
    found: list[Activity] = []
    for at, kind, slug, title in rows:
        what = _ACTIVITY_KINDS[kind]
        name = title or slug or "an item since deleted"
        if what == "open" and found and found[-1].kind == "open" and found[-1].at == at:
            # One open shows every item: its events share one moment.
            found[-1] = replace(found[-1], items=(*found[-1].items, name))
            continue
        found.append(Activity(at=at, kind=what, items=(name,)))
    return found[:limit]


# ---- the buyer's side ---------------------------------------------------------------------------


def live_link(session: Session, token: str, now: datetime | None = None) -> ShareLink:
    """The link this token opens. Expired, revoked, forged, or its rep deactivated: NotFound,
    one answer for all."""
    if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
        raise NotFound("share link")
    link = session.scalar(select(ShareLink).where(ShareLink.token_hash == token_hash(token)))
    if link is None or not link.is_live(now or utcnow()):
        raise NotFound("share link")
    return link


def visible_items(link: ShareLink) -> list[ContentItem]:
    """The link's items that are still published and external, in the order shared."""
    return [item for item in link.items if is_shareable(item)]


def shared_item(link: ShareLink, slug: str) -> ContentItem:
    for item in visible_items(link):
        if item.slug == slug:
            return item
    raise NotFound(slug)


def shared_file(link: ShareLink, slug: str) -> ContentItem:
    """The item whose file the buyer may download through this link."""
    item = shared_item(link, slug)
    if not link.allow_downloads or item.file is None:
        raise NotFound(slug)
    return item


def _miss_limit(address: str) -> throttle.Limit:
    return throttle.Limit(f"share-miss:{address}", MISS_LIMIT, counts=False)


def take_turn(session: Session, address: str, now: datetime | None = None,
              shared: throttle.SharedCounts | None = None) -> None:
    """Count one request to a share page from this address; Throttled past either limit.
    Counted in `shared` (Redis) when given, else in the database."""
    throttle.take_turn(session, [throttle.Limit(f"share-open:{address}", OPEN_LIMIT),
                                 _miss_limit(address)],
                       now, what="requests for shared pages", shared=shared)


def note_miss(session: Session, address: str, now: datetime | None = None,
              shared: throttle.SharedCounts | None = None) -> None:
    """A forged, expired or revoked link was asked for from this address."""
    throttle.record(session, _miss_limit(address), now, shared=shared)


def note_open(session: Session, link: ShareLink, activity_path: str,
              now: datetime | None = None) -> bool:
    """Count an open of the link's page. The first one leaves the rep a notification (linking
    to `activity_path`) and returns True: exactly once, however many open it at the same time."""
    now = now or utcnow()
    begin_write(session)
    first = session.execute(
        update(ShareLink).where(ShareLink.id == link.id, ShareLink.first_opened_at.is_(None))
        .values(first_opened_at=now).execution_options(synchronize_session=False)).rowcount == 1
    session.execute(update(ShareLink).where(ShareLink.id == link.id)
                    .values(open_count=ShareLink.open_count + 1, last_opened_at=now)
                    .execution_options(synchronize_session=False))
    if first:
        session.add(Notification(user_id=link.created_by_id, message=first_open_message(link),
                                 link=activity_path, created_at=now))
    session.commit()
    session.refresh(link)
    return first


def buyer_events(link: ShareLink, kind: str, items: Sequence[ContentItem],
                 now: datetime | None = None, **details) -> list[usage.Event]:
    """The usage events of the buyer's open, view or download: no user, the link's deal (and
    its stage), details {"share": id}; one moment for all, so an open reads as one."""
    if kind not in BUYER_KINDS:
        raise ValueError(kind)
    now = now or utcnow()
    deal = link.deal
    return [replace(usage.event(kind, item=item, deal=deal, stage=deal.stage if deal else None,
                                share=link.id, **details), occurred_at=now)
            for item in items]


# ---- words for people -------------------------------------------------------------------------


def describe(link: ShareLink) -> str:
    deal = f" ({link.deal.name})" if link.deal else ""
    return f"the link you sent to {link.recipient_email}{deal}"


def first_open_message(link: ShareLink) -> str:
    return f"Opened for the first time: {describe(link)}."[:500]


def one_line(text: str, most: int = 200) -> str:
    """Text fit for an e-mail header: a title or a name typed with a line break would make
    the header invalid (and a header is where an injected line would do harm)."""
    return " ".join((text or "").split())[:most]


def first_open_letter(link: ShareLink, activity_url: str) -> Letter:
    rep = link.created_by
    return Letter(
        to=rep.email,
        subject=one_line(f"{link.recipient_email} opened your link"),
        text=(f"Hello {rep.name},\n\n"
              f"Someone just opened {describe(link)} for the first time.\n\n"
              f"See what they view and download:\n{activity_url}\n"))


def share_letter(link: ShareLink, url: str) -> Letter:
    """The e-mail that takes the link to its recipient, with the rep's note."""
    rep = link.created_by
    titles = [item.title for item in visible_items(link)]
    subject = (f"{rep.name} shared “{titles[0]}” with you" if len(titles) == 1
               else f"{rep.name} shared {len(titles)} documents with you")
    lines = [link.note, ""] if link.note else []
    lines += ["Shared with you:", *(f"  • {t}" for t in titles), "",
              f"Open them here (no log-in needed):\n{url}", "",
              f"The link works until {link.expires_at:%d %B %Y}.", "", rep.name]
    return Letter(to=link.recipient_email, subject=one_line(subject), text="\n".join(lines),
                  reply_to=rep.email)
