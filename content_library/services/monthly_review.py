"""The monthly enablement review: one month against the month before, from one call.

Every figure is a SQL aggregation (GROUP BY in the database, the same SQL on SQLite and
PostgreSQL); Python only picks the top and bottom of short lists. `docs/analytics.md`
("The monthly review") defines each figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ..database import begin_write
from ..errors import Invalid, NotFound
from ..models import (
    ACTION_STATUSES,
    ActionItem,
    ContentItem,
    ContentRequest,
    SearchLog,
    Stage,
    UsageEvent,
    User,
    item_stages,
    utcnow,
)
from . import catalog
from .effectiveness import Effectiveness, Period, effectiveness
from .usage_ranking import RANKING_KINDS

# What counts as someone using an item: the same events that rank items by use.
USE_KINDS = RANKING_KINDS
TOP_AND_BOTTOM = 3  # items shown at each end of each stage's list
LIST_LIMIT = 50  # rows of the long lists (unused, stale, searches) the review shows
EFFECTIVE_ITEMS = 10  # items with most influenced deals shown beside the baseline
NO_STAGE = ""  # events recorded outside any stage page

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# ---- months -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    year: int
    number: int

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.number:02d}"

    @property
    def label(self) -> str:
        return self.first_day.strftime("%B %Y")

    @property
    def first_day(self) -> date:
        return date(self.year, self.number, 1)

    @property
    def after(self) -> Month:
        return Month(self.year + self.number // 12, self.number % 12 + 1)

    @property
    def before(self) -> Month:
        return Month(self.year - (self.number == 1), (self.number - 2) % 12 + 1)

    @property
    def last_day(self) -> date:
        return self.after.first_day - timedelta(days=1)

    @property
    def period(self) -> Period:
        return Period(self.first_day, self.last_day)

    @property
    def first_moment(self) -> datetime:
        return self.period.first_moment

    @property
    def after_last_moment(self) -> datetime:
        return self.period.after_last_moment


def parse_month(text: str | None) -> Month:
    """A month as YYYY-MM (2026-11); anything else is refused with the reason."""
    match = _MONTH.match((text or "").strip())
    if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1:
        return Month(int(match.group(1)), int(match.group(2)))
    raise Invalid({"month": f"expected a month like 2026-11, got '{text or ''}'"})


def last_full_month(today: date) -> Month:
    """The month a meeting early in this month reviews."""
    return Month(today.year, today.month).before


def _in(column, month: Month):
    return and_(column >= month.first_moment, column < month.after_last_moment)


def _count_in(column, month: Month):
    return func.sum(case((_in(column, month), 1), else_=0))


def _both_months(column, month: Month):
    """Rows of the month or the one before: one scan, then a CASE per month."""
    return and_(column >= month.before.first_moment, column < month.after_last_moment)


# ---- usage --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A count this month and the month before."""

    this: int
    before: int

    @property
    def difference(self) -> int:
        return self.this - self.before


NO_USE = Change(0, 0)


@dataclass(frozen=True)
class Uses:
    """Uses per (item, stage context) in the month and the month before: the one scan of
    the events that usage by stage, the top and bottom items and the unused list share
    (a year of a million events: one scan, not three). At most items × stages rows."""

    counts: dict[tuple[int | None, str], Change]

    def by_stage(self) -> dict[str, Change]:
        totals: dict[str, list[int]] = {}
        for (_, stage), change in self.counts.items():
            total = totals.setdefault(stage, [0, 0])
            total[0] += change.this
            total[1] += change.before
        return {stage: Change(*total) for stage, total in totals.items()}

    def items_used(self, this_month: bool) -> set[int]:
        return {item for (item, _), change in self.counts.items()
                if item is not None and (change.this if this_month else change.before)}


def uses(session: Session, month: Month) -> Uses:
    rows = session.execute(
        select(UsageEvent.item_id, UsageEvent.stage, _count_in(UsageEvent.occurred_at, month),
               _count_in(UsageEvent.occurred_at, month.before))
        .where(UsageEvent.kind.in_(USE_KINDS), _both_months(UsageEvent.occurred_at, month))
        .group_by(UsageEvent.item_id, UsageEvent.stage))
    return Uses({(item, stage or NO_STAGE): Change(int(this or 0), int(before or 0))
                 for item, stage, this, before in rows})


@dataclass(frozen=True)
class StageUse:
    slug: str  # NO_STAGE for use outside any stage page
    name: str
    uses: Change


def _stage_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Stage.slug, Stage.name).order_by(Stage.position, Stage.id)).all())


def usage_by_stage(session: Session, month: Month, counted: Uses | None = None) -> list[StageUse]:
    """Uses of items by the stage the person was looking at: every stage in order (with 0s),
    then any stage context no longer in the taxonomy, then use outside any stage."""
    counts = (counted or uses(session, month)).by_stage()
    names = _stage_names(session)
    result = [StageUse(slug, name, counts.pop(slug, NO_USE)) for slug, name in names.items()]
    outside = counts.pop(NO_STAGE, NO_USE)
    result += [StageUse(slug, slug, change) for slug, change in sorted(counts.items())]
    return result + [StageUse(NO_STAGE, "No stage (search, links, the library)", outside)]


@dataclass(frozen=True)
class ItemUse:
    slug: str
    title: str
    owner: str
    uses: Change


@dataclass(frozen=True)
class StageItems:
    slug: str
    name: str
    top: list[ItemUse]
    bottom: list[ItemUse]


def top_and_bottom(session: Session, month: Month, counted: Uses | None = None,
                   size: int = TOP_AND_BOTTOM) -> list[StageItems]:
    """Per stage, the published items tagged with it most and least used at that stage;
    an item never used there is at the bottom with 0."""
    counts = (counted or uses(session, month)).counts
    tagged = session.execute(
        select(Stage.slug, ContentItem.id, ContentItem.slug, ContentItem.title,
               ContentItem.owner_email)
        .join(item_stages, item_stages.c.stage_id == Stage.id)
        .join(ContentItem, ContentItem.id == item_stages.c.item_id)
        .where(ContentItem.status == "published"))
    by_stage: dict[str, list[ItemUse]] = {}
    for stage, item_id, slug, title, owner in tagged:
        by_stage.setdefault(stage, []).append(
            ItemUse(slug, title, owner or "", counts.get((item_id, stage), NO_USE)))
    result = []
    for slug, name in _stage_names(session).items():
        ranked = sorted(by_stage.get(slug, []),
                        key=lambda i: (-i.uses.this, -i.uses.before, i.slug))
        top = [item for item in ranked[:size] if item.uses.this > 0]
        rest = ranked[len(top):]
        result.append(StageItems(slug, name, top, list(reversed(rest[-size:]))))
    return result


# ---- unused and stale ---------------------------------------------------------------------


@dataclass(frozen=True)
class IdleItem:
    slug: str
    title: str
    owner: str
    last_used: datetime | None
    review_by: date | None


@dataclass(frozen=True)
class IdleList:
    count: Change  # how many this month and the month before
    items: list[IdleItem]  # the first LIST_LIMIT of this month's


def _last_uses(session: Session, item_ids: list[int], before: datetime) -> dict[int, datetime]:
    """When each item was last used before a moment: read through the (item, time) index
    for these items only, never the whole year of events."""
    last: dict[int, datetime] = {}
    for start in range(0, len(item_ids), 500):
        last.update(session.execute(
            select(UsageEvent.item_id, func.max(UsageEvent.occurred_at))
            .where(UsageEvent.item_id.in_(item_ids[start:start + 500]),
                   UsageEvent.kind.in_(USE_KINDS), UsageEvent.occurred_at < before)
            .group_by(UsageEvent.item_id)).all())
    return last


def unused_items(session: Session, month: Month, counted: Uses | None = None) -> IdleList:
    """Published items nobody used in the month, least recently used (or never) first."""
    counted = counted or uses(session, month)
    used, used_before = counted.items_used(True), counted.items_used(False)
    published = session.execute(
        select(ContentItem.id, ContentItem.slug, ContentItem.title, ContentItem.owner_email,
               ContentItem.review_by).where(ContentItem.status == "published")).all()
    idle = [row for row in published if row[0] not in used]
    last = _last_uses(session, [row[0] for row in idle], month.after_last_moment)
    idle.sort(key=lambda row: (row[0] in last, last.get(row[0], datetime.min), row[1]))
    items = [IdleItem(slug, title, owner or "", last.get(item_id), review)
             for item_id, slug, title, owner, review in idle[:LIST_LIMIT]]
    count_before = sum(1 for row in published if row[0] not in used_before)
    return IdleList(Change(len(idle), count_before), items)


def _count(session: Session, condition) -> int:
    return int(session.scalar(select(func.count(ContentItem.id)).where(condition)) or 0)


def _stale_at(day: date):
    return and_(ContentItem.status == "published", ContentItem.review_by < day)


def stale_items(session: Session, month: Month) -> IdleList:
    """Published items whose review date had passed by the month's last day, oldest first.
    The month before is counted with today's review dates: a renewal rewrites the date."""
    rows = session.execute(
        select(ContentItem.slug, ContentItem.title, ContentItem.owner_email,
               ContentItem.review_by)
        .where(_stale_at(month.last_day))
        .order_by(ContentItem.review_by, ContentItem.slug).limit(LIST_LIMIT))
    items = [IdleItem(slug, title, owner or "", None, review) for slug, title, owner, review in rows]
    return IdleList(Change(_count(session, _stale_at(month.last_day)),
                           _count(session, _stale_at(month.before.last_day))), items)


# ---- findability --------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchGap:
    query: str
    searches: Change


@dataclass(frozen=True)
class Findability:
    no_results: list[SearchGap]  # searches that found nothing, most frequent first
    none_opened: list[SearchGap]  # searches that found something nobody opened
    no_results_total: Change
    none_opened_total: Change


def _words(column):
    return func.lower(func.trim(column))


def _search_counts(session: Session, month: Month, condition, limit: int | None):
    words = _words(SearchLog.query)
    stmt = (select(words, func.count()).where(_in(SearchLog.at, month), condition)
            .group_by(words).order_by(func.count().desc(), words).limit(limit))
    return dict(session.execute(stmt).all())


def _searches(session: Session, month: Month, condition) -> tuple[list[SearchGap], Change]:
    """Searches of the month matching `condition(month)`, most frequent first, each with
    its count in the month before; and the totals of both months."""
    this = _search_counts(session, month, condition(month), LIST_LIMIT)
    before = _search_counts(session, month.before, condition(month.before), None)
    totals = [int(session.scalar(select(func.count()).select_from(SearchLog)
                                 .where(_in(SearchLog.at, m), condition(m))) or 0)
              for m in (month, month.before)]
    gaps = [SearchGap(query, Change(count, before.get(query, 0))) for query, count in this.items()]
    return gaps, Change(*totals)


def findability(session: Session, month: Month) -> Findability:
    """A search counts as "none opened" when it found results and no `search_open` event of
    the same month carries the same words (case and outer spaces aside)."""

    def none_opened(m: Month):
        query = UsageEvent.details["query"].as_string()
        # NOT IN over a NULL matches nothing at all: an open without its words is left out.
        opened = (select(_words(query))
                  .where(UsageEvent.kind == "search_open", _in(UsageEvent.occurred_at, m),
                         query.is_not(None)))
        return and_(SearchLog.results > 0, _words(SearchLog.query).not_in(opened))

    no_results, no_results_total = _searches(session, month, lambda m: SearchLog.results == 0)
    unopened, unopened_total = _searches(session, month, none_opened)
    return Findability(no_results, unopened, no_results_total, unopened_total)


# ---- coverage, requests, effectiveness ----------------------------------------------------


@dataclass(frozen=True)
class CoverageGap:
    stage: str
    stakeholder: str
    for_everyone: int  # published items at that stage for every stakeholder


def coverage_gaps(session: Session) -> list[CoverageGap]:
    """Stage × stakeholder cells with no published item made for that stakeholder, as the
    library stands when the review is made (the coverage page's matrix)."""
    matrix = catalog.coverage(session)
    return [CoverageGap(stage.name, stakeholder.name, matrix.count(stage.slug, ""))
            for stage in matrix.stages for stakeholder in matrix.stakeholders
            if stakeholder.slug and not matrix.count(stage.slug, stakeholder.slug)]


@dataclass(frozen=True)
class Requests:
    opened: Change
    closed: Change
    open_at_end: int  # still open at the end of the month


# A request is closed once marketing declined or completed it; `decided_at` is then when.
CLOSED_REQUESTS = ("declined", "completed")


def content_requests(session: Session, month: Month) -> Requests:
    created = ContentRequest.created_at
    closed = case((ContentRequest.status.in_(CLOSED_REQUESTS), ContentRequest.decided_at))
    open_at_end = and_(created < month.after_last_moment,
                       or_(closed.is_(None), closed >= month.after_last_moment))
    row = session.execute(
        select(_count_in(created, month), _count_in(created, month.before),
               _count_in(closed, month), _count_in(closed, month.before),
               func.sum(case((open_at_end, 1), else_=0)))).one()
    this_opened, before_opened, this_closed, before_closed, still_open = (int(n or 0) for n in row)
    return Requests(Change(this_opened, before_opened), Change(this_closed, before_closed),
                    still_open)


# ---- action items -------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    id: int
    month: str
    text: str
    owner: str
    due: date | None
    status: str


def _action(item: ActionItem) -> Action:
    return Action(item.id, item.month, item.text, item.owner, item.due, item.status)


@dataclass(frozen=True)
class Actions:
    from_last_meeting: list[Action]  # agreed at the review of the month before
    carried: list[Action]  # agreed earlier and still open
    agreed_now: list[Action]  # recorded on this month's review


def actions(session: Session, month: Month) -> Actions:
    order = (ActionItem.due.is_(None), ActionItem.due, ActionItem.id)
    rows = session.scalars(
        select(ActionItem).where((ActionItem.month >= month.before.key)
                                 | (ActionItem.status == "open"))
        .where(ActionItem.month <= month.key).order_by(*order))
    grouped: dict[str, list[Action]] = {"last": [], "carried": [], "now": []}
    for row in rows:
        key = ("now" if row.month == month.key
               else "last" if row.month == month.before.key else "carried")
        grouped[key].append(_action(row))
    return Actions(grouped["last"], grouped["carried"], grouped["now"])


@dataclass
class NewAction:
    text: str = ""
    owner: str = ""
    due: str = ""  # YYYY-MM-DD or empty


def _checked(data: NewAction) -> tuple[str, str, date | None]:
    reasons: dict[str, str] = {}
    text, owner = data.text.strip(), data.owner.strip()
    if not text:
        reasons["text"] = "say what was agreed"
    elif len(text) > 1000:
        reasons["text"] = f"keep it under 1,000 characters (it has {len(text):,})"
    if not owner:
        reasons["owner"] = "name who will do it"
    elif len(owner) > 120:
        reasons["owner"] = "keep the owner under 120 characters"
    due = None
    if data.due.strip():
        try:
            due = date.fromisoformat(data.due.strip())
        except ValueError:
            reasons["due"] = f"expected a date like 2026-12-15, got '{data.due.strip()}'"
    if reasons:
        raise Invalid(reasons)
    return text, owner, due


def add_action(session: Session, month: Month, data: NewAction, author: User | None) -> Action:
    text, owner, due = _checked(data)
    begin_write(session)
    item = ActionItem(month=month.key, text=text, owner=owner, due=due, status="open",
                      created_by_id=author.id if author else None)
    session.add(item)
    session.commit()
    return _action(item)


def set_action_status(session: Session, action_id: int, status: str) -> Action:
    if status not in ACTION_STATUSES:
        raise Invalid({"status": f"expected one of {', '.join(ACTION_STATUSES)}, got '{status}'"})
    begin_write(session)
    item = session.get(ActionItem, action_id)
    if item is None:
        session.rollback()
        raise NotFound(str(action_id))
    item.status = status
    item.updated_at = utcnow()
    session.commit()
    return _action(item)


# ---- the whole review ---------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    month: Month
    made_at: datetime
    usage: list[StageUse]
    stage_items: list[StageItems]
    unused: IdleList
    stale: IdleList
    findability: Findability
    coverage_gaps: list[CoverageGap]
    requests: Requests
    effectiveness: Effectiveness
    effectiveness_before: Effectiveness
    actions: Actions

    @property
    def total_uses(self) -> Change:
        return Change(sum(s.uses.this for s in self.usage), sum(s.uses.before for s in self.usage))


def monthly_review(session: Session, month: Month, made_at: datetime) -> Review:
    counted = uses(session, month)
    return Review(
        month=month, made_at=made_at,
        usage=usage_by_stage(session, month, counted),
        stage_items=top_and_bottom(session, month, counted),
        unused=unused_items(session, month, counted),
        stale=stale_items(session, month),
        findability=findability(session, month),
        coverage_gaps=coverage_gaps(session),
        requests=content_requests(session, month),
        effectiveness=effectiveness(session, month.period),
        effectiveness_before=effectiveness(session, month.before.period),
        actions=actions(session, month),
    )
