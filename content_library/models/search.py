"""What search needs besides the items: synonyms, what people searched for, what they asked for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
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


class ContentRequest(Base):
    """A rep's request to marketing for content that does not exist yet."""

    __tablename__ = "content_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    query: Mapped[str] = mapped_column(String(256), default="")
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    requester: Mapped[User | None] = relationship()
