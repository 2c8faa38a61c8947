"""Reading content for people: stage playbooks, the managers' library list, item cards."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import case, func, literal, or_, select, union_all
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
    item_solutions,
    item_stages,
    item_stakeholders,
    item_verticals,
    review_overdue,
)
from ..records import ItemCard, TagRef
from ..visibility import published_filter, sees_internal
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


@dataclass(frozen=True)
class _Candidate:
    """An item of the stage as far as ranking needs it: no text, no tags' names."""

    id: int
    stakeholders: frozenset[int]  # stakeholder ids; none: for every stakeholder
    rank: tuple


def _ranked(session: Session, user: User, context: DealContext,
            usage: dict[str, float] | None = None) -> list[_Candidate]:
    """The stage's items that fit the deal, best first, read as plain rows.

    Ranking every item of a stage reads only ids, titles and tag ids (three statements and
    the usage GROUP BY); the cards are built for the few shown (`playbook`). Order: tagged
    for the chosen stakeholder first; then specific to the deal's vertical and solution
    above content for all of them; then use at this stage, recent use counting more
    (`usage_ranking`), or the given usage by slug; then title."""
    stage_id = session.scalar(select(Stage.id).where(Stage.slug == context.stage))
    if stage_id is None:
        return []
    at_stage = select(item_stages.c.item_id).where(item_stages.c.stage_id == stage_id)
    specific = []
    stmt = select(ContentItem.id, ContentItem.slug, ContentItem.title).where(
        ContentItem.id.in_(at_stage), published_filter(user))
    for selected, relation, tag_model in ((context.vertical, ContentItem.verticals, Vertical),
                                         (context.solution, ContentItem.solutions, Solution)):
        if selected:
            # An item for every vertical (or solution) fits any; one tagged fits its own.
            is_specific = relation.any(tag_model.slug == selected)
            stmt = stmt.where(or_(~relation.any(), is_specific))
            specific.append(is_specific)
    stmt = stmt.add_columns(*(case((s, 1), else_=0) for s in specific))
    rows = session.execute(stmt).all()
    stakeholders: dict[int, set[int]] = {}
    for item_id, stakeholder_id in session.execute(
            select(item_stakeholders.c.item_id, item_stakeholders.c.stakeholder_id)
            .where(item_stakeholders.c.item_id.in_(at_stage))):
        stakeholders.setdefault(item_id, set()).add(stakeholder_id)
    wanted = None
    if context.stakeholder:
        wanted = session.scalar(select(Stakeholder.id).where(Stakeholder.slug == context.stakeholder))
    if usage is None:
        by_id = decayed_use(session, [row[0] for row in rows], stage=context.stage)
    else:
        by_id = {row[0]: usage[row[1]] for row in rows if row[1] in usage}
    ranked = []
    for item_id, _slug, title, *flags in rows:
        tags = frozenset(stakeholders.get(item_id, ()))
        for_stakeholder = wanted is not None and wanted in tags
        if context.stakeholder and tags and not for_stakeholder:
            continue
        rank = (not for_stakeholder, -sum(flags), -by_id.get(item_id, 0.0), title.lower())
        ranked.append(_Candidate(item_id, tags, rank))
    ranked.sort(key=lambda candidate: candidate.rank)
    return ranked


def _reasons(item: ItemCard, context: DealContext) -> list[str]:
    """Why a rep at this deal is shown the item, in the rep's words."""
    reasons = []
    for_stakeholder = next((t.name for t in item.stakeholders if t.slug == context.stakeholder), None)
    if context.stakeholder and for_stakeholder:
        reasons.append("for the " + for_stakeholder)
    elif not item.stakeholders:
        reasons.append("for every stakeholder")
    for selected, tags in ((context.vertical, item.verticals), (context.solution, item.solutions)):
        name = next((t.name for t in tags if t.slug == selected), None)
        if selected and name:
            reasons.append(name)
    return reasons or ["for this stage"]


def _cards(session: Session, user: User, ids: Sequence[int], context: DealContext,
           today: date) -> dict[int, ItemCard]:
    """The cards of those of these items ``user`` may read now, with their reasons, by id.
    Visibility is asked again here: a kept ranking (`StageRankings`) may be seconds old."""
    return {item_id: replace(found, reasons=tuple(_reasons(found, context)))
            for item_id, found in readable_cards(session, user, ids, today).items()}


_TAG_LINKS = (("stages", item_stages, item_stages.c.stage_id, Stage),
              ("stakeholders", item_stakeholders, item_stakeholders.c.stakeholder_id, Stakeholder),
              ("solutions", item_solutions, item_solutions.c.solution_id, Solution),
              ("verticals", item_verticals, item_verticals.c.vertical_id, Vertical))


def readable_cards(session: Session, user: User, ids: Sequence[int], today: date, *,
                   buyer: bool = False) -> dict[int, ItemCard]:
    """The cards (as `card` makes them) of those of these items ``user`` may read now, by
    id. Two statements a 500 items, the items' columns then all their tags at once, where
    loading whole items with their four tag lists and type took six, and most of a search
    page's or a stage page's database time."""
    cards: dict[int, ItemCard] = {}
    for start in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[start:start + 500]
        rows = session.execute(
            select(ContentItem.id, ContentItem.slug, ContentItem.title, ContentItem.summary,
                   ContentItem.audience, ContentItem.status, ContentItem.review_by,
                   ContentItem.file_id, ContentType.slug, ContentType.name)
            .join(ContentType, ContentType.id == ContentItem.type_id)
            .where(ContentItem.id.in_(chunk), published_filter(user))).all()
        tags = _tags_of(session, [row[0] for row in rows])
        for item_id, slug, title, summary, audience, status, review_by, file_id, *kind in rows:
            found = tags.get(item_id, {})
            cards[item_id] = ItemCard(
                slug=slug, title=title, summary=summary, type=TagRef(*kind), audience=audience,
                status=status, stakeholders=tuple(found.get("stakeholders", ())),
                stages=tuple(found.get("stages", ())), solutions=tuple(found.get("solutions", ())),
                verticals=tuple(found.get("verticals", ())),
                stale=review_overdue(review_by, today) and not buyer,
                has_file=file_id is not None)
    return cards


def _tags_of(session: Session, ids: Sequence[int]) -> dict[int, dict[str, list[TagRef]]]:
    """Each item's tags by kind, in the taxonomy's order, in one statement."""
    if not ids:
        return {}
    parts = []
    for kind, link, tag_id, model in _TAG_LINKS:
        parts.append(select(literal(kind).label("kind"), link.c.item_id, model.slug, model.name,
                            model.position, model.id)
                     .join(model, model.id == tag_id).where(link.c.item_id.in_(ids)))
    found: dict[int, dict[str, list[TagRef]]] = {}
    ordered = union_all(*parts).order_by("kind", "item_id", "position", "id")
    for kind, item_id, slug, name, _position, _id in session.execute(ordered):
        found.setdefault(item_id, {}).setdefault(kind, []).append(TagRef(slug, name))
    return found


def recommend(session: Session, user: User, context: DealContext, today: date,
              usage: dict[str, float] | None = None) -> list[ItemCard]:
    """Content for a deal at this stage, best first, each with the reasons it was picked
    (the order of `_ranked`)."""
    ids = [c.id for c in _ranked(session, user, context, usage)]
    cards = _cards(session, user, ids, context, today)
    return [cards[i] for i in ids if i in cards]


@dataclass(frozen=True)
class StakeholderGroup:
    stakeholder: TagRef | None  # None: content for every stakeholder
    cards: list[ItemCard]  # the best GROUP_SIZE of them
    total: int = 0  # how many there are in all (the rest: in search, paged)


# A rep reads a stage's best few per stakeholder; a library of thousands would otherwise put
# every one of them on the page (1.2 MB and 0.3 s of CPU at 10,000 items: bench/load.py).
GROUP_SIZE = 12


class StageRankings:
    """Stage rankings kept for a few seconds in this process, for the staff (who all see the
    same published items; a champion's are never kept). Ranking a stage of thousands of items
    is most of a stage page's time, and every rep at a stage asks the same.

    What a kept ranking may get wrong is bounded: the order may be up to ``seconds`` old (a
    new item or a use may show that much later), never what is shown: the cards are read,
    and visibility asked, at each page. `forget` drops everything (the portal calls it after
    each committed change of this process); at most ``size`` rankings are kept."""

    def __init__(self, seconds: float, size: int = 256, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._kept: OrderedDict[DealContext, tuple[float, list[_Candidate]]] = OrderedDict()
        self._lock = threading.Lock()

    def ranked(self, context: DealContext, rank: Callable[[], list[_Candidate]]) -> list[_Candidate]:
        if self.seconds <= 0:
            return rank()
        now = self._clock()
        with self._lock:
            found = self._kept.get(context)
            if found is not None and found[0] > now:
                self._kept.move_to_end(context)
                return found[1]
        ranking = rank()
        with self._lock:
            self._kept[context] = (now + self.seconds, ranking)
            self._kept.move_to_end(context)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return ranking

    def forget(self) -> None:
        with self._lock:
            self._kept.clear()


def playbook(session: Session, user: User, context: DealContext, today: date,
             rankings: StageRankings | None = None) -> list[StakeholderGroup]:
    """A stage's content grouped by stakeholder, in the taxonomy's order: the best
    GROUP_SIZE of each group as cards, and how many there are in all."""
    if rankings is not None and sees_internal(user):
        ranked = rankings.ranked(context, lambda: _ranked(session, user, context))
    else:
        ranked = _ranked(session, user, context)
    stakeholders = list(session.scalars(select(Stakeholder).order_by(Stakeholder.position)))
    shown = [s for s in stakeholders if not context.stakeholder or s.slug == context.stakeholder]
    members: dict[int | None, list[int]] = {s.id: [] for s in shown}
    members[None] = []
    totals: dict[int | None, int] = dict.fromkeys(members, 0)
    for candidate in ranked:
        for group in candidate.stakeholders or (None,):
            if group in members:
                totals[group] += 1
                if len(members[group]) < GROUP_SIZE:
                    members[group].append(candidate.id)
    cards = _cards(session, user, sorted({i for ids in members.values() for i in ids}), context, today)
    groups = []
    for key, ref in [(s.id, _ref(s)) for s in shown] + [(None, None)]:
        if members[key]:
            groups.append(StakeholderGroup(ref, [cards[i] for i in members[key] if i in cards], totals[key]))
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
