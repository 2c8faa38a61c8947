"""Keeping the library current from the analytics pages: archive an unused item, renew a
review date, hand an item to another owner, and undo the last of these.

Each goes through the item services (`change_status`, `save_item`), so every change is a
new version with its note and reaches the search index like any edit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta

from sqlalchemy.orm import Session

from ..errors import Conflict, Invalid
from ..models import User
from .items import change_status, get_item, input_from_snapshot, save_item, snapshot

RENEW_DAYS = 90
CHANGES = ("status", "review_by", "owner")


@dataclass(frozen=True)
class Change:
    """What one click changed, enough to put it back: kept in the manager's session."""

    slug: str
    field: str  # one of CHANGES
    before: str | None
    after: str | None
    version: int  # the item's version after the change; undo refuses if it moved on

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> Change | None:
        if not isinstance(data, dict) or data.get("field") not in CHANGES:
            return None
        try:
            return cls(str(data["slug"]), data["field"], data["before"], data["after"],
                       int(data["version"]))
        except (KeyError, TypeError, ValueError):
            return None


def _save_field(session: Session, slug: str, field: str, value, actor: User, note: str,
                *, new_owner: bool = False) -> Change:
    item = get_item(session, slug)
    before = snapshot(item)
    if field == "status":
        change_status(session, item, value, actor, note=note)
    else:
        data = replace(input_from_snapshot(before), **{field: value})
        save_item(session, data, actor, note=note, existing=item, expected_version=item.version,
                  owner_must_have_account=new_owner)
    return Change(slug, field, before[field], snapshot(item)[field], item.version)


def archive(session: Session, slug: str, actor: User) -> Change:
    return _save_field(session, slug, "status", "archived", actor, "Archived from analytics")


def renew_review(session: Session, slug: str, actor: User, today: date,
                 until: date | None = None) -> Change:
    """Move the review date to `until`, or RENEW_DAYS from today."""
    until = until or today + timedelta(days=RENEW_DAYS)
    if until <= today:
        raise Invalid({"review_by": "Choose a review date after today."})
    return _save_field(session, slug, "review_by", until, actor, "Review date renewed")


def reassign(session: Session, slug: str, actor: User, owner: str) -> Change:
    owner = (owner or "").strip().lower()
    if not owner:
        raise Invalid({"owner": "Choose the new owner."})
    return _save_field(session, slug, "owner", owner, actor, "Owner changed", new_owner=True)


def undo(session: Session, change: Change, actor: User) -> Change:
    """Put back what `change` changed, unless the item was edited since (Conflict)."""
    item = get_item(session, change.slug)
    if item.version != change.version:
        raise Conflict(f"'{item.title}' was changed again since; open it to change it by hand.")
    value = change.before
    if change.field == "review_by" and value is not None:
        value = date.fromisoformat(value)
    return _save_field(session, change.slug, change.field, value, actor, "Undone from analytics")
