"""What people did with the content: one append-only table of usage events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

# What each kind means, fixed now so later kinds slot in without changing earlier ones.
# Every event may carry the stage the rep was looking at and the deal, when known.
USAGE_KINDS = {
    "view": "someone opened the item's page",
    "download": "someone downloaded the item's file",
    "copy": "a rep copied part of the item; details: {'part': argument field}",
    "search": "a search was run; no item; details: {'query', 'filters', 'results'}",
    "search_open": "a result was opened from a search; details: {'query', 'position'}",
    "used_in_deal": "a rep recorded that the item was used in the deal",
    "feedback": "someone said whether the item helped; details: {'useful', 'comment'}",
    "share": "a rep shared the item with a buyer through a link; details: {'share': id}",
    "share_open": "a buyer opened a shared item; no user; details: {'share': id}",
    "template_generated": "someone filled in the item's template; details: {'format'}",
}
# The kinds that tie an item to a deal for effectiveness (INTERFACES section 7).
INFLUENCE_KINDS = ("share", "download", "used_in_deal")

# 64-bit ids in PostgreSQL; SQLite's rowid is already 64-bit but must be spelled INTEGER.
EventId = BigInteger().with_variant(Integer, "sqlite")


class UsageEvent(Base):
    """One thing one person did, never updated except to forget who did it.

    The item's slug is kept beside its id so counts survive an item's deletion; the user
    becomes None after the retention period while the role stays, so counts by role remain.
    """

    __tablename__ = "usage_events"
    __table_args__ = (
        # Covering: usage per item reads each item's events in a period from the index alone,
        # in item order (a year of a million events on SQLite: several seconds less).
        Index("ix_usage_events_item_time", "item_id", "occurred_at", "kind", "user_id", "stage"),
        # Covering: effectiveness reads kind, item and time of a deal's events from the
        # index alone (a year of a million events: 2.6 s without, 0.5 s with, on SQLite).
        Index("ix_usage_events_deal", "deal_id", "kind", "item_id", "occurred_at"),
        # Covering too: the monthly review counts two months of uses per (item, stage) from
        # the index alone (a year of a million events: 2.6 s without, 0.55 s with, on SQLite).
        Index("ix_usage_events_kind_time", "kind", "occurred_at", "item_id", "stage"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("content_items.id", ondelete="SET NULL"), nullable=True)
    item_slug: Mapped[str | None] = mapped_column(String(120), nullable=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    role: Mapped[str] = mapped_column(String(16), default="")
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL"), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(120), nullable=True)  # the stage context
    occurred_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<UsageEvent {self.kind} {self.item_slug} {self.occurred_at:%Y-%m-%d}>"
