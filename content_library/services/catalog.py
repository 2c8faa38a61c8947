"""Reading content for people: stage playbooks, the managers' library list, item cards."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..models import (
    STATUSES,
    ContentItem,
    ContentType,
    Solution,
    Stage,
    Stakeholder,
    User,
    Vertical,
)
from ..records import ItemCard, TagRef
from ..visibility import published_filter
from .usage_ranking import decayed_use


def _ref(tag) -> TagRef:
    return TagRef(tag.slug, tag.name)


def card(item: ContentItem, today: date, reasons: Sequence[str] = (), *,
         buyer: bool = False) -> ItemCard:
    """An item's card; a buyer's (a champion's) without the staff's freshness mark."""
    return ItemCard(
        slug=item.slug, title=item.title, summary=item.summary, type=_ref(item.type),
        audience=item.audience, status=item.status,
        stakeholders=tuple(map(_ref, item.stakeholders)), stages=tuple(map(_ref, item.stages)),
        solutions=tuple(map(_ref, item.solutions)), verticals=tuple(map(_ref, item.verticals)),
        stale=item.is_stale(today) and not buyer, has_file=item.file_id is not None, reasons=tuple(reasons),
    )


def with_tags(stmt):
    return stmt.options(
        selectinload(ContentItem.stages), selectinload(ContentItem.stakeholders),
        selectinload(ContentItem.solutions), selectinload(ContentItem.verticals),
        selectinload(ContentItem.type),
    )


@dataclass(frozen=True)
class DealContext:
    """What a rep knows about the deal: the stage, and optionally who, what and which industry."""

    stage: str
    stakeholder: str | None = None
    solution: str | None = None
    vertical: str | None = None


def _fits(selected: str | None, tags: Iterable) -> tuple[bool, bool]:
    """(fits at all, specific to the selection). An item for every vertical (no tags) fits any."""
    slugs = [t.slug for t in tags]
    if not selected:
        return True, False
    if not slugs:
        return True, False
    return selected in slugs, selected in slugs


def recommend(session: Session, user: User, context: DealContext, today: date,
              usage: dict[str, float] | None = None) -> list[ItemCard]:
    """Content for a deal at this stage, best first, each with the reasons it was picked.

    Order: tagged for the chosen stakeholder first; then specific to the deal's vertical
    and solution above content for all of them; then use at this stage, recent use
    counting more (`usage_ranking`), or the given usage by slug; then title.
    """
    stmt = with_tags(select(ContentItem).join(ContentItem.stages)
                      .where(Stage.slug == context.stage, published_filter(user)))
    items = list(session.scalars(stmt).unique())
    if usage is None:
        by_id = decayed_use(session, [item.id for item in items], stage=context.stage)
        usage = {item.slug: by_id[item.id] for item in items if item.id in by_id}
    scored = []
    for item in items:
        fits_solution, specific_solution = _fits(context.solution, item.solutions)
        fits_vertical, specific_vertical = _fits(context.vertical, item.verticals)
        if not (fits_solution and fits_vertical):
            continue
        stakeholder_slugs = [t.slug for t in item.stakeholders]
        for_stakeholder = bool(context.stakeholder) and context.stakeholder in stakeholder_slugs
        if context.stakeholder and stakeholder_slugs and not for_stakeholder:
            continue
        reasons = []
        if for_stakeholder:
            reasons.append("for the " + next(t.name for t in item.stakeholders
                                             if t.slug == context.stakeholder))
        elif not stakeholder_slugs:
            reasons.append("for every stakeholder")
        if specific_vertical:
            reasons.append(next(t.name for t in item.verticals if t.slug == context.vertical))
        if specific_solution:
            reasons.append(next(t.name for t in item.solutions if t.slug == context.solution))
        if not reasons:
            reasons.append("for this stage")
        rank = (not for_stakeholder, -(specific_vertical + specific_solution),
                -usage.get(item.slug, 0.0), item.title.lower())
        scored.append((rank, card(item, today, reasons)))
    scored.sort(key=lambda pair: pair[0])
    return [c for _, c in scored]


@dataclass(frozen=True)
class StakeholderGroup:
    stakeholder: TagRef | None  # None: content for every stakeholder
    cards: list[ItemCard]  # the best GROUP_SIZE of them
    total: int = 0  # how many there are in all (the rest: in search, paged)


# A rep reads a stage's best few per stakeholder; a library of thousands would otherwise put
# every one of them on the page (1.2 MB and 0.3 s of CPU at 10,000 items: bench/load.py).
GROUP_SIZE = 12


def playbook(session: Session, user: User, context: DealContext, today: date) -> list[StakeholderGroup]:
    """A stage's content grouped by stakeholder, in the taxonomy's order."""
    cards = recommend(session, user, context, today)
    stakeholders = list(session.scalars(select(Stakeholder).order_by(Stakeholder.position)))
    groups = []
    for stakeholder in stakeholders:
        if context.stakeholder and stakeholder.slug != context.stakeholder:
            continue
        members = [c for c in cards if stakeholder.slug in {s.slug for s in c.stakeholders}]
        if members:
            groups.append(StakeholderGroup(_ref(stakeholder), members[:GROUP_SIZE],
                                           len(members)))
    general = [c for c in cards if not c.stakeholders]
    if general:
        groups.append(StakeholderGroup(None, general[:GROUP_SIZE], len(general)))
    return groups


@dataclass(frozen=True)
class LibraryFilter:
    status: str | None = None
    type: str | None = None
    stage: str | None = None
    text: str = ""
    stale_only: bool = False
    page: int = 1
    per_page: int = 50
    matching: tuple[str, ...] = ()  # slugs whose full text matches ``text``, best first
    ranked: tuple[str, ...] = ()  # slugs in the order to list them (content health)


def library_page(session: Session, flt: LibraryFilter, today: date) -> tuple[list[ItemCard], int]:
    """Every item, every status: the managers' view. Returns one page and the total.

    Text finds the items whose title or slug contains it, and those the search index
    matched on their full text (``flt.matching``), the latter first, best first."""
    stmt = select(ContentItem)
    if flt.status in STATUSES:
        stmt = stmt.where(ContentItem.status == flt.status)
    if flt.type:
        stmt = stmt.join(ContentItem.type).where(ContentType.slug == flt.type)
    if flt.stage:
        stmt = stmt.where(ContentItem.stages.any(Stage.slug == flt.stage))
    if flt.text:
        words = flt.text.strip()[:100]
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(ContentItem.title.ilike(pattern, escape="\\"),
                              ContentItem.slug.ilike(pattern, escape="\\"),
                              ContentItem.slug.in_(flt.matching)))
    if flt.stale_only:
        stmt = stmt.where(ContentItem.review_by < today)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    order = [ContentItem.updated_at.desc(), ContentItem.id.desc()]
    first = flt.matching if flt.text and flt.matching else flt.ranked
    if first:
        ranks = {slug: position for position, slug in enumerate(first)}
        order.insert(0, case(ranks, value=ContentItem.slug, else_=len(ranks)))
    page = with_tags(stmt.order_by(*order).offset((flt.page - 1) * flt.per_page).limit(flt.per_page))
    return [card(item, today) for item in session.scalars(page)], total


def taxonomy_choices(session: Session) -> dict[str, list]:
    return {
        "stages": list(session.scalars(select(Stage).order_by(Stage.position, Stage.id))),
        "stakeholders": list(session.scalars(select(Stakeholder).order_by(Stakeholder.position))),
        "solutions": list(session.scalars(select(Solution).order_by(Solution.position))),
        "verticals": list(session.scalars(select(Vertical).order_by(Vertical.position))),
        "content_types": list(session.scalars(select(ContentType).order_by(ContentType.position))),
    }


@dataclass(frozen=True)
class Coverage:
    """Published items per stage × stakeholder: the gaps marketing must fill."""

    stages: list[TagRef]
    stakeholders: list[TagRef]  # the last column, slug "", is content for every stakeholder
    counts: dict[tuple[str, str], int]

    def count(self, stage: str, stakeholder: str) -> int:
        return self.counts.get((stage, stakeholder), 0)


def coverage(session: Session, solution: str | None = None, vertical: str | None = None) -> Coverage:
    """Counts what a rep at each stage would be offered for each stakeholder; an item for
    every solution or vertical counts under any choice, as the stage pages treat it."""
    stmt = with_tags(select(ContentItem).where(ContentItem.status == "published"))
    counts: dict[tuple[str, str], int] = {}
    for item in session.scalars(stmt):
        if not (_fits(solution, item.solutions)[0] and _fits(vertical, item.verticals)[0]):
            continue
        stakeholders = [t.slug for t in item.stakeholders] or [""]
        for stage in item.stages:
            for stakeholder in stakeholders:
                key = (stage.slug, stakeholder)
                counts[key] = counts.get(key, 0) + 1
    choices = taxonomy_choices(session)
    return Coverage(stages=[_ref(s) for s in choices["stages"]],
                    stakeholders=[_ref(s) for s in choices["stakeholders"]] + [TagRef("", "Everyone")],
                    counts=counts)
