"""Deals from the CRM, the stages they passed through, and how CRM stage names map to ours."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

DEAL_SOURCES = ("salesforce", "hubspot")
OUTCOMES = ("won", "lost-competition", "lost-no-decision")

# Numeric keeps amounts exact in PostgreSQL. Python floats on the way out: SQLite has no
# decimal type (SQLAlchemy warns when asked for Decimal there), and every figure we
# derive from amounts is a ratio.
Amount = Numeric(18, 2, asdecimal=False)


class Deal(Base):
    """An opportunity as the CRM exported it; the CRM stays its source of truth."""

    __tablename__ = "deals"
    __table_args__ = (UniqueConstraint("source", "crm_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    crm_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    account: Mapped[str] = mapped_column(String(300), default="")
    amount: Mapped[float | Decimal | None] = mapped_column(Amount, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    # The stage as the CRM names it, and the portal stage it maps to (None: unmapped,
    # or a closing stage such as "Closed Won", which is not a stage of ours).
    crm_stage: Mapped[str] = mapped_column(String(120), default="")
    stage: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    created_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    close_date: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)  # None while open
    loss_reason: Mapped[str] = mapped_column(Text, default="")
    forecast_category: Mapped[str] = mapped_column(String(40), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    history: Mapped[list[DealStageEntry]] = relationship(
        back_populates="deal", cascade="all, delete-orphan", order_by="DealStageEntry.entered_at")

    def __repr__(self) -> str:
        return f"<Deal {self.source}:{self.crm_id} {self.crm_stage}>"


class DealStageEntry(Base):
    """The moment a deal entered a CRM stage: one row per change of stage, not per edit."""

    __tablename__ = "deal_stage_history"
    __table_args__ = (UniqueConstraint("deal_id", "entered_at", "crm_stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    crm_stage: Mapped[str] = mapped_column(String(120))
    stage: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    entered_at: Mapped[datetime] = mapped_column(DateTime)

    deal: Mapped[Deal] = relationship(back_populates="history")


class CrmStageMapping(Base):
    """A manager's choice of portal stage for a CRM stage name that does not match one by itself."""

    __tablename__ = "crm_stage_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    crm_stage: Mapped[str] = mapped_column(String(120), unique=True)
    stage: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
