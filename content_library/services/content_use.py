"""How the content is used: per-item counts, unused and stale items, the findability
backlog, one item's use over time and the deals it was used in, and the health score.

Like `effectiveness`, the database does the counting (GROUP BY, the same SQL on SQLite and
PostgreSQL) and Python only shapes the rows. docs/analytics.md defines every figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import isfinite

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ..models import ContentItem, ContentType, Deal, SearchLog, UsageEvent
from .effectiveness import TOO_FEW_DEALS, Period, effectiveness

# The per-item counts and the event kind each one counts.
KIND_COUNTS = {"views": "view", "downloads": "download", "copies": "copy", "shares": "share",
               "share_opens": "share_open"}
# The columns a usage table may be sorted by; anything else sorts by the default.
USAGE_SORTS = ("title", "type", "owner", "views", "unique_viewers", "downloads", "copies",
               "shares", "share_opens", "last_used", "stale")
DEFAULT_USAGE_SORT = "views"
DEFAULT_IDLE_DAYS = 90


def _in_period(when: Period):
    return and_(UsageEvent.occurred_at >= when.first_moment,
                UsageEvent.occurred_at < when.after_last_moment)


def iso_moment(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


@dataclass(frozen=True)
class UsageFilter:
    """Narrows a usage table. `stage` counts only use at that stage (the stage the rep was
    looking at when it happened); `type` and `owner` narrow the items."""

    stage: str | None = None
    type: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class ItemUsage:
    slug: str
    title: str
    type: str
    owner: str | None
    status: str
    views: int
    unique_viewers: int
    downloads: int
    copies: int
    shares: int
    share_opens: int
    last_used: datetime | None  # the item's last use in the period
    stale: bool  # past its review date

    def as_dict(self) -> dict:
        """The shape of GET /api/v1/analytics/content."""
        return {"slug": self.slug, "views": self.views, "unique_viewers": self.unique_viewers,
                "downloads": self.downloads, "shares": self.shares,
                "share_opens": self.share_opens, "last_used": iso_moment(self.last_used),
                "stale": self.stale}


def item_usage(session: Session, when: Period, today: date, flt: UsageFilter = UsageFilter(),
               sort: str = DEFAULT_USAGE_SORT, descending: bool = True) -> list[ItemUsage]:
    """Every item with its use in the period (zeros for the unused ones).

    The two databases want the counting written differently (a year of a million events,
    measured side by side, docs/performance.md):
    - SQLite: driven from the items, each item's events are one range of the covering
      (item, time, kind, user, stage) index, read in item order with no sort (0.6 s; grouping
      the period's events first sorts them all: 2 s and more).
    - PostgreSQL: grouping the period's events first, with the unique viewers counted apart,
      lets it hash and run in parallel (0.12 s; the item-driven form: 0.6-1 s).
    """
    kind = UsageEvent.kind
    in_scope = [_in_period(when)]
    if flt.stage:
        in_scope.append(UsageEvent.stage == flt.stage)
    counts = {name: func.sum(case((kind == k, 1), else_=0)) for name, k in KIND_COUNTS.items()}
    viewer = case((kind == "view", UsageEvent.user_id))
    if session.get_bind().dialect.name == "postgresql":
        per_item = (select(UsageEvent.item_id, *(c.label(n) for n, c in counts.items()),
                           func.max(UsageEvent.occurred_at).label("last_used"))
                    .where(*in_scope).group_by(UsageEvent.item_id).subquery())
        pairs = (select(UsageEvent.item_id, UsageEvent.user_id)
                 .where(kind == "view", *in_scope).distinct().subquery())
        viewers = (select(pairs.c.item_id, func.count(pairs.c.user_id).label("n"))
                   .group_by(pairs.c.item_id).subquery())
        figures = {**{n: func.coalesce(per_item.c[n], 0) for n in KIND_COUNTS},
                   "unique_viewers": func.coalesce(viewers.c.n, 0),
                   "last_used": per_item.c.last_used}

        def with_events(stmt):
            return (stmt.outerjoin(per_item, per_item.c.item_id == ContentItem.id)
                    .outerjoin(viewers, viewers.c.item_id == ContentItem.id))
        grouped = False
    else:
        figures = {**counts, "unique_viewers": func.count(func.distinct(viewer)),
                   "last_used": func.max(UsageEvent.occurred_at)}

        def with_events(stmt):
            return stmt.outerjoin(UsageEvent, and_(UsageEvent.item_id == ContentItem.id,
                                                   *in_scope))
        grouped = True
    stale = and_(ContentItem.review_by.is_not(None), ContentItem.review_by < today)
    columns = {
        **figures,
        "stale": case((stale, 1), else_=0),
        "title": func.lower(ContentItem.title), "type": ContentType.name,
        "owner": func.coalesce(ContentItem.owner_email, ""),
    }
    key = columns[sort if sort in USAGE_SORTS else DEFAULT_USAGE_SORT]
    order = [key.desc() if descending else key.asc()]
    if sort == "last_used":  # never used sorts after every used item, either way
        order.insert(0, case((columns["last_used"].is_(None), 1), else_=0))
    stmt = with_events(
        select(ContentItem.slug, ContentItem.title, ContentType.name, ContentItem.owner_email,
               ContentItem.status,
               *(columns[name] for name in (*KIND_COUNTS, "unique_viewers", "last_used",
                                            "stale")))
        .join(ContentType, ContentType.id == ContentItem.type_id))
    if grouped:
        stmt = stmt.group_by(ContentItem.id, ContentItem.slug, ContentItem.title,
                             ContentType.name, ContentItem.owner_email, ContentItem.status,
                             ContentItem.review_by)
    stmt = stmt.order_by(*order, ContentItem.slug)
    if flt.type:
        stmt = stmt.where(ContentType.slug == flt.type)
    if flt.owner:
        stmt = stmt.where(ContentItem.owner_email == flt.owner)
    rows = []
    for (slug, title, type_name, owner, status, views, downloads, copies, shares, share_opens,
         unique_viewers, last_used, is_stale) in session.execute(stmt):
        rows.append(ItemUsage(slug, title, type_name, owner, status, int(views or 0),
                              int(unique_viewers or 0), int(downloads or 0), int(copies or 0),
                              int(shares or 0), int(share_opens or 0), last_used,
                              bool(is_stale)))
    return rows


# ---- unused and stale ---------------------------------------------------------------------


@dataclass(frozen=True)
class IdleItem:
    slug: str
    title: str
    owner: str | None
    review_by: date | None
    last_used: datetime | None  # ever; None when never used


def _last_use():
    """The item's last use ever: one step down the (item, time) index per item, where a
    GROUP BY over every event would read them all."""
    return (select(func.max(UsageEvent.occurred_at)).where(UsageEvent.item_id == ContentItem.id)
            .correlate(ContentItem).scalar_subquery())


def _idle_rows(session: Session, condition, last, owner: str | None) -> list[IdleItem]:
    stmt = (select(ContentItem.slug, ContentItem.title, ContentItem.owner_email,
                   ContentItem.review_by, last)
            .where(ContentItem.status == "published", condition))
    if owner:
        stmt = stmt.where(ContentItem.owner_email == owner)
    stmt = stmt.order_by(case((last.is_(None), 0), else_=1), last, ContentItem.review_by,
                         ContentItem.slug)
    return [IdleItem(*row) for row in session.execute(stmt)]


def unused_items(session: Session, today: date, days: int = DEFAULT_IDLE_DAYS,
                 owner: str | None = None) -> list[IdleItem]:
    """Published items nobody used in the last `days` days (today included), never used first."""
    since = datetime.combine(today - timedelta(days=days - 1), time.min)
    last = _last_use()
    return _idle_rows(session, or_(last.is_(None), last < since), last, owner)


def stale_items(session: Session, today: date, owner: str | None = None) -> list[IdleItem]:
    """Published items past their review date, the longest overdue first."""
    last = _last_use()
    rows = _idle_rows(session, ContentItem.review_by < today, last, owner)
    return sorted(rows, key=lambda r: (r.review_by, r.slug))


# ---- findability backlog ------------------------------------------------------------------


@dataclass(frozen=True)
class SearchGap:
    query: str
    count: int  # searches for it in the period
    zero_results: int  # of those, the ones that found nothing
    opened: int  # results opened from a search for it

    @property
    def not_opened(self) -> int:
        """Searches that found something of which nothing was opened (at least this many)."""
        return max(0, self.count - self.zero_results - self.opened)

    def as_dict(self) -> dict:
        """The shape of GET /api/v1/analytics/searches."""
        return {"query": self.query, "count": self.count, "zero_results": self.zero_results}


def search_backlog(session: Session, when: Period) -> list[SearchGap]:
    """What people searched for in the period, most frequent first, from the search log;
    results opened come from `search_open` events, matched on the normalised query."""
    in_period = and_(SearchLog.at >= when.first_moment, SearchLog.at < when.after_last_moment)
    count = func.count()
    searches = session.execute(
        select(SearchLog.query, count, func.sum(case((SearchLog.results == 0, 1), else_=0)))
        .where(in_period).group_by(SearchLog.query).order_by(count.desc(), SearchLog.query))
    opened_query = UsageEvent.details["query"].as_string()
    opened: dict[str, int] = {}
    for query, times in session.execute(
            select(opened_query, func.count()).where(UsageEvent.kind == "search_open",
                                                     _in_period(when))
            .group_by(opened_query)):
        words = " ".join((query or "").lower().split())
        opened[words] = opened.get(words, 0) + times
    return [SearchGap(query, int(n), int(zero or 0), opened.get(query, 0))
            for query, n, zero in searches]


# ---- one item -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthUse:
    month: date  # its first day
    views: int
    downloads: int
    other: int  # copies, shares, share opens, uses in deals, feedback, templates

    @property
    def total(self) -> int:
        return self.views + self.downloads + self.other


def _month_starts(today: date, months: int) -> list[date]:
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def use_by_month(session: Session, item_id: int, today: date, months: int = 12) -> list[MonthUse]:
    """The item's use in each of the last `months` calendar months, this one included.

    Grouped by day in SQL (DATE() is the same on SQLite and PostgreSQL; month arithmetic is
    not), then by month here: at most a year of days crosses the wire."""
    starts = _month_starts(today, months)
    day = func.date(UsageEvent.occurred_at)
    totals = {start: [0, 0, 0] for start in starts}
    for on, kind, n in session.execute(
            select(day, UsageEvent.kind, func.count())
            .where(UsageEvent.item_id == item_id,
                   UsageEvent.occurred_at >= datetime.combine(starts[0], time.min))
            .group_by(day, UsageEvent.kind)):
        on = on if isinstance(on, date) else date.fromisoformat(str(on))
        slot = totals.get(date(on.year, on.month, 1))
        if slot is not None:
            slot[{"view": 0, "download": 1}.get(kind, 2)] += int(n)
    return [MonthUse(start, *totals[start]) for start in starts]


@dataclass(frozen=True)
class DealUse:
    name: str
    account: str
    crm_stage: str
    outcome: str | None
    close_date: date | None
    amount: float | None
    last_linked: datetime


def deals_used_in(session: Session, item_id: int, limit: int = 100) -> list[DealUse]:
    """The deals an event links this item to, the most recently linked first."""
    last = func.max(UsageEvent.occurred_at)
    rows = session.execute(
        select(Deal.name, Deal.account, Deal.crm_stage, Deal.outcome, Deal.close_date,
               Deal.amount, last)
        .join(Deal, Deal.id == UsageEvent.deal_id)
        .where(UsageEvent.item_id == item_id)
        .group_by(Deal.id, Deal.name, Deal.account, Deal.crm_stage, Deal.outcome,
                  Deal.close_date, Deal.amount)
        .order_by(last.desc(), Deal.name).limit(limit))
    return [DealUse(*row) for row in rows]


# ---- health -------------------------------------------------------------------------------

HEALTH_WEIGHTS = {"freshness": 0.4, "usage": 0.4, "outcome": 0.2}
USAGE_WINDOW_DAYS = 90
HALF_USE = 10  # uses in the window that score half the usage part
FADE_DAYS = 180  # days past due over which freshness falls from 1 to 0
UNREVIEWED_DAYS = 365  # without a review date, an item is fresh this long after its last edit


@dataclass(frozen=True)
class Health:
    freshness: float
    usage: float
    outcome: float

    @property
    def score(self) -> int:
        total = sum(getattr(self, part) * weight for part, weight in HEALTH_WEIGHTS.items())
        return round(100 * total)


def _freshness(review_by: date | None, updated_at: datetime, today: date) -> float:
    due = review_by or (updated_at.date() + timedelta(days=UNREVIEWED_DAYS))
    overdue = (today - due).days
    return 1.0 if overdue <= 0 else max(0.0, 1 - overdue / FADE_DAYS)


def health_scores(session: Session, today: date) -> dict[str, Health]:
    """One score from 0 to 100 per item, by slug (docs/analytics.md, "Content health")."""
    since = datetime.combine(today - timedelta(days=USAGE_WINDOW_DAYS - 1), time.min)
    # Counted item by item down the (item, time) index: no sort of a quarter's events.
    recent_uses = (select(func.count()).where(UsageEvent.item_id == ContentItem.id,
                                              UsageEvent.occurred_at >= since)
                   .correlate(ContentItem).scalar_subquery())
    year = effectiveness(session, Period(today - timedelta(days=364), today))
    lifts = {e.slug: e.lift for e in year.items if e.deals >= TOO_FEW_DEALS}
    scores = {}
    for slug, review_by, updated_at, used in session.execute(
            select(ContentItem.slug, ContentItem.review_by, ContentItem.updated_at,
                   recent_uses)):
        lift = lifts.get(slug)
        outcome = 0.5 if lift is None or not isfinite(lift) else min(1.0, max(0.0, 0.5 + lift / 2))
        scores[slug] = Health(_freshness(review_by, updated_at, today),
                              used / (used + HALF_USE), outcome)
    return scores


def weakest_first(scores: dict[str, Health]) -> tuple[str, ...]:
    return tuple(sorted(scores, key=lambda slug: (scores[slug].score, slug)))


def owners(session: Session) -> list[str]:
    """Every owner an item names, for the owner filters."""
    return list(session.scalars(select(ContentItem.owner_email).where(
        ContentItem.owner_email.is_not(None)).distinct().order_by(ContentItem.owner_email)))
