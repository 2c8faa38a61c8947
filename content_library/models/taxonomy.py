"""The four ways content is tagged (stage, stakeholder, solution, vertical) plus its type."""

from __future__ import annotations

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

PHASES = ("conversations", "funded-project", "vendor-of-choice", "closed")
FORECAST_CATEGORY = {
    "conversations": "Pipeline",
    "funded-project": "Best Case",
    "vendor-of-choice": "Commit",
    "closed": "Closed",
}
PHASE_NAMES = {
    "conversations": "Conversations",
    "funded-project": "Funded project",
    "vendor-of-choice": "Vendor of choice",
    "closed": "Closed",
}


class TagMixin:
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.slug}>"


class Stage(TagMixin, Base):
    """A buyer's stage: what the buyer is doing, not what the seller does."""

    __tablename__ = "stages"
    phase: Mapped[str] = mapped_column(String(32), default="conversations")
    buyer_goal: Mapped[str] = mapped_column(Text, default="")
    exit_criteria: Mapped[list[str]] = mapped_column(JSON, default=list)

    @property
    def forecast_category(self) -> str:
        return FORECAST_CATEGORY.get(self.phase, "Pipeline")

    @property
    def phase_name(self) -> str:
        return PHASE_NAMES.get(self.phase, self.phase)


class Stakeholder(TagMixin, Base):
    __tablename__ = "stakeholders"


class Solution(TagMixin, Base):
    __tablename__ = "solutions"


class Vertical(TagMixin, Base):
    __tablename__ = "verticals"


class ContentType(TagMixin, Base):
    __tablename__ = "content_types"


# The tag kinds as the exchange format and the forms name them.
TAG_MODELS: dict[str, type[TagMixin]] = {
    "stages": Stage,
    "stakeholders": Stakeholder,
    "solutions": Solution,
    "verticals": Vertical,
    "content_types": ContentType,
}
