"""Plain, frozen records handed from the domain to search and to templates.

They carry values, never ORM objects, so they can cross a commit or a process
boundary safely (search indexing runs after the transaction has committed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# A record's fingerprint may end with this mark and its usage score's step. Usage moves all
# day and reaches the index on its own schedule (`portal index refresh-ranking`), so a drift
# check compares only what comes before it: a view is not drift.
USAGE_MARK = "~u"


def content_fingerprint(fingerprint: str) -> str:
    """The part of a fingerprint that says what the item holds, without its usage step."""
    return fingerprint.partition(USAGE_MARK)[0]


@dataclass(frozen=True)
class SearchableItem:
    """What the search index needs to know about one content item."""

    slug: str
    title: str
    summary: str
    body_text: str  # Markdown rendered to plain text
    argument_text: str  # every part of the sales argument, as plain text
    file_text: str  # text extracted from the attached file ("" when none or unreadable)
    tag_names: str  # the names of its stages, stakeholders, solutions, verticals and type
    type: str  # content type slug
    audience: str  # "internal" | "external"
    status: str  # "draft" | "in_review" | "published" | "archived"
    stages: tuple[str, ...] = ()
    stakeholders: tuple[str, ...] = ()
    solutions: tuple[str, ...] = ()
    verticals: tuple[str, ...] = ()
    updated_at: datetime | None = None
    review_by: date | None = None
    usage_score: float = 0.0  # recent usage, 0..1, for a modest ranking boost
    fingerprint: str = ""  # changes whenever anything above changes: for `index check`

    def facet_values(self) -> dict[str, tuple[str, ...]]:
        return {
            "stage": self.stages,
            "stakeholder": self.stakeholders,
            "solution": self.solutions,
            "vertical": self.verticals,
            "type": (self.type,),
        }


@dataclass(frozen=True)
class Viewer:
    """Who is searching, reduced to what the index needs: decided by
    `content_library.visibility.viewer_for`, never by the search backends."""

    sees_internal: bool  # published internal items too, or only published external ones
    # None: every item of that class. Otherwise only these slugs, of those the class may see:
    # a champion reads only what was shared with them and the template library.
    allowed_slugs: frozenset[str] | None = None


@dataclass(frozen=True)
class ItemChange:
    """One pending entry of the durable index change log."""

    id: int
    slug: str
    op: str  # "upsert" | "delete"


@dataclass(frozen=True)
class TagRef:
    slug: str
    name: str


@dataclass(frozen=True)
class ItemCard:
    """An item as lists show it: enough for a card, nothing more."""

    slug: str
    title: str
    summary: str
    type: TagRef
    audience: str
    status: str
    stakeholders: tuple[TagRef, ...] = ()
    stages: tuple[TagRef, ...] = ()
    solutions: tuple[TagRef, ...] = ()
    verticals: tuple[TagRef, ...] = ()
    stale: bool = False
    has_file: bool = False
    reasons: tuple[str, ...] = field(default_factory=tuple)
