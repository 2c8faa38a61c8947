"""Who may see and do what: the one place every page, endpoint, search and download asks.

Deny by default. An item a caller may not read must look exactly like an item that
does not exist, so reads raise NotFound; a whole function a role may not use raises
NotAllowed.

Staff read every published item (managers every item: they edit drafts). A champion reads
a published external item only when a rep shared it with them or their company on a link
that still works, or when it is in the template library (its file is a template the
champion fills in). The rule exists twice, as it must: as an SQL condition for lists and
search (`published_filter`, `viewer_for`) and as a check of one item (`can_read`), which
asks the item's own session. Both are built from the same pieces below.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, and_, cast, exists, false, func, or_, select
from sqlalchemy.orm import Session, object_session

from .errors import NotAllowed, NotFound
from .models import ContentItem, ShareLink, StoredFile, User, share_link_items, utcnow
from .records import Viewer

MANAGE_ROLES = frozenset({"manager", "admin"})
# The seller's side: the only roles that see internal items (and browse the stage playbooks).
STAFF_ROLES = frozenset({"admin", "manager", "rep"})
READER_ROLES = STAFF_ROLES | {"champion"}

# What each role may do beyond reading published content.
ACTIONS: dict[str, frozenset[str]] = {
    "manage_content": MANAGE_ROLES,  # create, edit, review, publish, archive, restore
    "view_library": MANAGE_ROLES,  # the managers' library pages, drafts included
    "view_versions": MANAGE_ROLES,
    "manage_taxonomy": MANAGE_ROLES,
    "manage_users": frozenset({"admin"}),
    "view_analytics": MANAGE_ROLES,  # usage, effectiveness, stages, findability, CSV exports
    "browse_stages": STAFF_ROLES,
    # Told that an archived item was archived (and what replaced it) rather than a bare 404.
    # Never a champion: to them an archived item must look like one that never existed.
    "see_archived_notice": STAFF_ROLES,
    # Deals are the seller's business: a champion never sees one, not even its name.
    "use_in_deal": STAFF_ROLES,
    "manage_deals": MANAGE_ROLES,  # import CRM exports, map CRM stage names
    "request_content": STAFF_ROLES,
    "answer_requests": MANAGE_ROLES,  # accept, decline or complete content requests
    "invite_champions": STAFF_ROLES,  # send a buyer an invitation to their deal room
    # What only the seller's side is shown on an item: its owner, review date and freshness,
    # usage, the rep-only parts of an argument and the help for copying them.
    "see_internal_signals": STAFF_ROLES,
}


def _active(user: User | None) -> bool:
    return user is not None and user.active and user.role in READER_ROLES


def may(user: User | None, action: str) -> bool:
    return _active(user) and user.role in ACTIONS.get(action, frozenset())


def require(user: User | None, action: str) -> None:
    if not may(user, action):
        raise NotAllowed(action)


def sees_internal(user: User | None) -> bool:
    """Who may see internal items: the one answer item pages, SQL lists and the search
    index (through `viewer_for`) all use."""
    return _active(user) and user.role in STAFF_ROLES


def can_read(user: User | None, item: ContentItem) -> bool:
    """Managers read every item (they edit drafts); reps every published item; a champion
    a published external item shared with them or in the template library."""
    if not _active(user):
        return False
    if user.role in MANAGE_ROLES:
        return True
    if item.status != "published":
        return False
    if sees_internal(user):
        return True
    if item.audience != "external" or user.role != "champion":
        return False
    if is_template(item):
        return True
    session = object_session(item)
    if session is None or item.id is None:
        return False  # an item that is nowhere cannot have been shared
    return bool(session.scalar(select(exists().where(
        share_link_items.c.item_id == item.id,
        share_link_items.c.share_id.in_(live_shares_for(user))))))


def require_read(user: User | None, item: ContentItem | None) -> ContentItem:
    if item is None or not can_read(user, item):
        raise NotFound()
    return item


def archived_notice(user: User | None, item: ContentItem | None) -> bool:
    """Whether this caller, who may not read the item, is told it was archived."""
    return item is not None and item.status == "archived" and may(user, "see_archived_notice")


def published_filter(user: User | None, now: datetime | None = None):
    """SQL condition on ContentItem for the reading surfaces (stage pages, search, API lists,
    the deal room): only published items, for every role; a champion only the external ones
    shared with them, and the template library."""
    if not _active(user):
        return false()
    condition = ContentItem.status == "published"
    if sees_internal(user):
        return condition
    if user.role != "champion":
        return false()
    return and_(condition, ContentItem.audience == "external",
                or_(ContentItem.id.in_(shared_item_ids(user, now)),
                    ContentItem.file_id.in_(template_file_ids())))


def viewer_for(user: User | None, session: Session | None = None) -> Viewer:
    """The search index's view of the caller. A champion's view names the slugs they may
    read (read with `session`; without one, none). Unknown or inactive callers see
    nothing, and the portal never lets them search anyway."""
    if not _active(user):
        return Viewer(sees_internal=False, allowed_slugs=frozenset())
    if sees_internal(user):
        return Viewer(sees_internal=True)
    if session is None:
        return Viewer(sees_internal=False, allowed_slugs=frozenset())
    slugs = session.scalars(select(ContentItem.slug).where(published_filter(user)))
    return Viewer(sees_internal=False, allowed_slugs=frozenset(slugs))


# ---- the pieces of a champion's rule --------------------------------------------------


def is_template(item: ContentItem) -> bool:
    """In the template library: the item's file is a template a champion fills in."""
    return bool(item.file is not None and item.file.template_fields)


def template_file_ids():
    """The stored files that are templates (their template fields are not an empty list)."""
    fields = cast(StoredFile.template_fields, Text)
    return select(StoredFile.id).where(StoredFile.template_fields.is_not(None),
                                       fields.not_in(["[]", "null"]))


def _sharing_reps():
    """People whose links still open: active staff. A deactivated rep's links die at once."""
    return select(User.id).where(User.active.is_(True), User.role.in_(STAFF_ROLES))


def live_share_condition(now: datetime | None = None):
    """A share link that still opens: not revoked, not expired, its rep still active."""
    return and_(ShareLink.revoked_at.is_(None), ShareLink.expires_at > (now or utcnow()),
                ShareLink.created_by_id.in_(_sharing_reps()))


def shared_with_condition(user: User):
    """A share link meant for this champion: sent to their e-mail, or to their company
    (any case; a champion without a company gets only what was sent to them)."""
    email = (user.email or "").strip().lower()
    company = (user.company or "").strip().lower()
    to_them = func.lower(func.trim(ShareLink.recipient_email)) == email
    if not company:
        return to_them
    return or_(to_them, func.lower(func.trim(ShareLink.company)) == company)


def live_shares_for(user: User, now: datetime | None = None):
    """The ids of the live share links meant for this champion (a subquery)."""
    if user.role != "champion" or not (user.email or "").strip():
        return select(ShareLink.id).where(false())
    return select(ShareLink.id).where(live_share_condition(now), shared_with_condition(user))


def shared_item_ids(user: User, now: datetime | None = None):
    """The ids of the items on those links (a subquery)."""
    return select(share_link_items.c.item_id).where(
        share_link_items.c.share_id.in_(live_shares_for(user, now)))


def hides(before: tuple[str, str], after: tuple[str, str]) -> bool:
    """Whether moving an item from (status, audience) ``before`` to ``after`` takes it
    away from someone who could find it: unpublishing or archiving a published item,
    or making a published external item internal."""
    (was_status, was_audience), (status, audience) = before, after
    if was_status != "published":
        return False
    return status != "published" or (was_audience == "external" and audience != "external")
