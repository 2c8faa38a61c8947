"""Who may see and do what: the one place every page, endpoint, search and download asks.

Deny by default. An item a caller may not read must look exactly like an item that
does not exist, so reads raise NotFound; a whole function a role may not use raises
NotAllowed.
"""

from __future__ import annotations

from sqlalchemy import and_, false

from .errors import NotAllowed, NotFound
from .models import ContentItem, User
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
    """Managers read every item (they edit drafts); everyone else reads published items,
    and a champion only the external ones."""
    if not _active(user):
        return False
    if user.role in MANAGE_ROLES:
        return True
    if item.status != "published":
        return False
    return item.audience == "external" or sees_internal(user)


def require_read(user: User | None, item: ContentItem | None) -> ContentItem:
    if item is None or not can_read(user, item):
        raise NotFound()
    return item


def archived_notice(user: User | None, item: ContentItem | None) -> bool:
    """Whether this caller, who may not read the item, is told it was archived."""
    return item is not None and item.status == "archived" and may(user, "see_archived_notice")


def published_filter(user: User | None):
    """SQL condition for the reading surfaces (stage pages, search, API lists):
    only published items, for every role; a champion only external ones."""
    if not _active(user):
        return false()
    condition = ContentItem.status == "published"
    if not sees_internal(user):
        condition = and_(condition, ContentItem.audience == "external")
    return condition


def viewer_for(user: User | None) -> Viewer:
    """The search index's view of the caller. Unknown or inactive callers search as a champion
    would (external only) and the portal never lets them search anyway."""
    return Viewer(sees_internal=sees_internal(user))
