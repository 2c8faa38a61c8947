"""What search needs besides the items: synonyms, what people searched for, what they asked for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .items import ContentItem
from .users import User


class SynonymGroup(Base):
    """Words and phrases that mean the same to a rep: ROI = return on investment."""

    __tablename__ = "synonym_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SearchLog(Base):
    """One search someone ran, for "what reps search for and do not find"."""

    __tablename__ = "search_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query: Mapped[str] = mapped_column(String(256), index=True)
    results: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


# A request's life: marketing accepts it (work planned) or declines it (with a reason), and
# completes it by linking the item that answers it.
REQUEST_STATUSES = ("open", "accepted", "declined", "completed")
REQUEST_STATUS_NAMES = {"open": "Waiting for marketing", "accepted": "Accepted: being made",
                        "declined": "Declined", "completed": "Done"}


class ContentRequest(Base):
    """A rep's request to marketing for content that does not exist yet."""

    __tablename__ = "content_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    query: Mapped[str] = mapped_column(String(256), default="")
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    # The deal context the rep asked from: stage and stakeholder slugs (None: not said).
    stage: Mapped[str | None] = mapped_column(String(120), nullable=True)
    stakeholder: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # The item the rep was looking at when asking, if any.
    asked_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("content_items.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    answered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("content_items.id", ondelete="SET NULL"), nullable=True)
    # Who changed the status last, when, and what they said to the rep.
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    answered_by: Mapped[ContentItem | None] = relationship(foreign_keys=[answered_by_id])
    asked_from: Mapped[ContentItem | None] = relationship(foreign_keys=[asked_from_id])
