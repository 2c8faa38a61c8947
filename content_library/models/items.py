"""Content items, their versions and their files."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
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
from .taxonomy import ContentType, Solution, Stage, Stakeholder, Vertical
from .users import User

STATUSES = ("draft", "in_review", "published", "archived")
STATUS_NAMES = {
    "draft": "Draft",
    "in_review": "In review",
    "published": "Published",
    "archived": "Archived",
}
AUDIENCES = ("internal", "external")

# The thirteen parts of a sales argument, in the order a rep reads them.
ARGUMENT_PARTS: tuple[tuple[str, str, bool], ...] = (
    # (field, heading, is a list)
    ("value_statement", "Value statement", False),
    ("business_problems", "Business problems", True),
    ("organizational_impact", "Organisational impact", False),
    ("proof", "Proof the problems exist", True),
    ("discovery_questions", "Discovery questions", True),
    ("implication_questions", "Implication questions", True),
    ("client_actions", "What the client must do", True),
    ("features", "Related features", True),
    ("personal_advantages", "Personal advantages", True),
    ("capability_proof", "Proof the capability solves it", False),
    ("examples", "Examples in use", True),
    ("before_after", "Before and after", False),
    ("financial_justification", "Financial justification", False),
)
ARGUMENT_FIELDS = tuple(p[0] for p in ARGUMENT_PARTS)
LIST_ARGUMENT_FIELDS = frozenset(p[0] for p in ARGUMENT_PARTS if p[2])
# The parts written for the rep's eyes only: the questions to ask the buyer and what the
# buyer gains personally. Never shown to a champion or on a share page, even when the item is
# external.
REP_ONLY_ARGUMENT_FIELDS = frozenset({"discovery_questions", "implication_questions",
                                      "personal_advantages"})
BUYER_ARGUMENT_PARTS = tuple(p for p in ARGUMENT_PARTS if p[0] not in REP_ONLY_ARGUMENT_FIELDS)


def review_overdue(review_by: date | None, today: date) -> bool:
    """Past its review date: what a card's "needs review" mark says."""
    return review_by is not None and review_by < today


def _link(name: str, target: str) -> Table:
    return Table(
        f"item_{name}",
        Base.metadata,
        Column("item_id", ForeignKey("content_items.id", ondelete="CASCADE"), primary_key=True),
        Column(f"{target}_id", ForeignKey(f"{name}.id", ondelete="CASCADE"), primary_key=True),
    )


item_stages = _link("stages", "stage")
item_stakeholders = _link("stakeholders", "stakeholder")
item_solutions = _link("solutions", "solution")
item_verticals = _link("verticals", "vertical")


class StoredFile(Base):
    """A file's bytes, stored once by content hash; items refer to it with their own name."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    mime: Mapped[str] = mapped_column(String(120))
    # None: the text could not be read (the item page says so); "": nothing to read.
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    template_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ContentItem(Base):
    __tablename__ = "content_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    type_id: Mapped[int] = mapped_column(ForeignKey("content_types.id"), index=True)
    audience: Mapped[str] = mapped_column(String(16), default="internal")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    body: Mapped[str] = mapped_column(Text, default="")
    argument: Mapped[dict] = mapped_column(JSON, default=dict)
    # An e-mail, not a foreign key: an exported library keeps its owners when it is
    # imported into a portal that does not know those people yet.
    owner_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    review_by: Mapped[date | None] = mapped_column(Date, nullable=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"), nullable=True)
    file_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # What a manager named as taking an archived item's place: a rep who follows an old
    # link is sent on to it. Not part of the versions: it is about the item's retirement,
    # not its words.
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("content_items.id", ondelete="SET NULL"), nullable=True
    )

    type: Mapped[ContentType] = relationship()
    file: Mapped[StoredFile | None] = relationship()
    stages: Mapped[list[Stage]] = relationship(secondary=item_stages, order_by=Stage.position)
    stakeholders: Mapped[list[Stakeholder]] = relationship(
        secondary=item_stakeholders, order_by=Stakeholder.position
    )
    solutions: Mapped[list[Solution]] = relationship(
        secondary=item_solutions, order_by=Solution.position
    )
    verticals: Mapped[list[Vertical]] = relationship(
        secondary=item_verticals, order_by=Vertical.position
    )
    replaced_by: Mapped[ContentItem | None] = relationship(remote_side=[id])
    versions: Mapped[list[ItemVersion]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="ItemVersion.number"
    )

    def is_stale(self, today: date) -> bool:
        return review_overdue(self.review_by, today)

    @property
    def has_argument(self) -> bool:
        return any(self.argument.get(f) for f in ARGUMENT_FIELDS) if self.argument else False

    def __repr__(self) -> str:
        return f"<ContentItem {self.slug} v{self.version} {self.status}>"


class ItemVersion(Base):
    """Every saved state of an item, the current one included; never changed once written."""

    __tablename__ = "item_versions"
    __table_args__ = (UniqueConstraint("item_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict] = mapped_column(JSON)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    item: Mapped[ContentItem] = relationship(back_populates="versions")
    author: Mapped[User | None] = relationship()


class IndexChange(Base):
    """The durable change log between the database and the search index.

    Written in the same transaction as the item change; applied to the index after
    commit and deleted then. Whatever is left (a crash, a busy index) is applied later.
    """

    __tablename__ = "index_changes"
    # Never reuse a deleted record's id on SQLite: a drain deletes the ids it applied, and
    # a reused one would be a newer change, deleted unapplied.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), index=True)
    op: Mapped[str] = mapped_column(String(8))  # "upsert" | "narrow" (hides it) | "delete"
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
