"""What reaches the buyer: share links, champion invitations, template fields, and the notes
that tell a rep when a buyer opened what they sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .deals import Deal
from .items import ContentItem
from .users import User

# Shortest and longest life a rep may give a share link (INTERFACES section 6).
SHARE_DAYS_MIN, SHARE_DAYS_MAX = 1, 90
# The kinds of value a template field takes, as a manager names them.
FIELD_KINDS = ("text", "number", "currency", "percent", "date")
FIELD_KIND_NAMES = {
    "text": "Text",
    "number": "Number",
    "currency": "Amount of money",
    "percent": "Percentage",
    "date": "Date",
}

share_link_items = Table(
    "share_link_items",
    Base.metadata,
    Column("share_id", ForeignKey("share_links.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", ForeignKey("content_items.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
)


class ShareLink(Base):
    """A link a rep sends a buyer. Only the SHA-256 of its token is kept: the token is in the
    URL the rep copies (or the e-mail the portal sends) and nowhere else.

    It opens its items until it expires, is revoked, or its rep is deactivated. `company` is
    whom it was shared with, beside the recipient: the deal's account when there is a deal, so
    every champion of that company sees it in their deal room."""

    __tablename__ = "share_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                               index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"),
                                                nullable=True, index=True)
    recipient_email: Mapped[str] = mapped_column(String(254), index=True)
    company: Mapped[str] = mapped_column(String(200), default="", index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    allow_downloads: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    first_opened_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_opened_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    open_count: Mapped[int] = mapped_column(Integer, default=0)

    created_by: Mapped[User] = relationship()
    deal: Mapped[Deal | None] = relationship()
    items: Mapped[list[ContentItem]] = relationship(
        secondary=share_link_items, order_by=share_link_items.c.position)

    def is_live(self, now: datetime) -> bool:
        return (self.revoked_at is None and self.expires_at > now
                and self.created_by is not None and self.created_by.active)

    def __repr__(self) -> str:
        return f"<ShareLink {self.id} to {self.recipient_email}>"


class ChampionInvitation(Base):
    """A rep's invitation to a buyer to become a champion: a single-use link, stored hashed,
    that lets them choose a password. `user_id` is set when it has been used."""

    __tablename__ = "champion_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    company: Mapped[str] = mapped_column(String(200))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"),
                                                nullable=True)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                nullable=True)

    deal: Mapped[Deal | None] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])


class TemplateField(Base):
    """One field of a business-case template: read from the file's `{{placeholders}}` (DOCX)
    or defined names (XLSX), then labelled and typed by a manager."""

    __tablename__ = "template_fields"
    __table_args__ = (UniqueConstraint("item_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"),
                                         index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(120))
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    required: Mapped[bool] = mapped_column(Boolean, default=True)


class Notification(Base):
    """A note in a person's portal ("Acme opened the link you sent"), read or not."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    message: Mapped[str] = mapped_column(String(500))
    link: Mapped[str] = mapped_column(String(500), default="")  # a local path
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
