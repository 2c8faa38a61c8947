"""Effectiveness and stage analytics (INTERFACES section 7), as SQL aggregations.

The database does the counting (GROUP BY, the same SQL on SQLite and PostgreSQL); Python
only turns the sums into rates and intervals. The results are plain dataclasses whose
`as_dict()` is the shape of `/analytics/effectiveness` and `/analytics/stages`.
docs/analytics.md says what each figure means and what it does not prove.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import sqrt

from sqlalchemy import Float, and_, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from ..errors import Invalid
from ..models import INFLUENCE_KINDS, ContentItem, Deal, DealStageEntry, Stage, UsageEvent

DEFAULT_DAYS = 30
TOO_FEW_DEALS = 5  # below this many deals a rate is shown as "too few deals"
Z_95 = 1.959963984540054  # the standard normal quantile for a two-sided 95% interval


# ---- periods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Inclusive dates, as `from` and `to` in the API."""

    start: date
    end: date

    @property
    def first_moment(self) -> datetime:
        return datetime.combine(self.start, time.min)

    @property
    def after_last_moment(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min)


def period(start: str | None, end: str | None, today: date) -> Period:
    """The period a manager asked for; without dates, the last 30 days, today included."""
    reasons: dict[str, str] = {}
    dates: dict[str, date | None] = {}
    for name, text in (("from", start), ("to", end)):
        try:
            dates[name] = date.fromisoformat(text) if text else None
        except ValueError:
            dates[name] = None
            reasons[name] = f"expected a date like 2026-03-31, got '{text}'"
    if reasons:
        raise Invalid(reasons)
    last = dates["to"] or today
    first = dates["from"] or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid({"from": f"the period starts ({first}) after it ends ({last})"})
    return Period(first, last)


# ---- rates --------------------------------------------------------------------------------


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson's score interval: unlike p ± z·se it stays within [0, 1] and is honest for
    small samples and for rates near 0 or 1. None when there were no trials."""
    if trials == 0:
        return None
    p = successes / trials
    shrink = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / shrink
    half = z * sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / shrink
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Outcomes:
    """The closed deals of a set by outcome, by count and by amount, and the rates on them."""

    won: int = 0
    lost_competition: int = 0
    lost_no_decision: int = 0
    won_amount: float = 0.0
    lost_competition_amount: float = 0.0
    lost_no_decision_amount: float = 0.0

    @property
    def deals(self) -> int:
        return self.won + self.lost_competition + self.lost_no_decision

    @property
    def close_rate(self) -> float | None:
        return _rate(self.won, self.deals)

    @property
    def win_rate(self) -> float | None:
        return _rate(self.won, self.won + self.lost_competition)

    @property
    def close_rate_amount(self) -> float | None:
        return _rate(self.won_amount, self.won_amount + self.lost_competition_amount
                     + self.lost_no_decision_amount)

    @property
    def win_rate_amount(self) -> float | None:
        return _rate(self.won_amount, self.won_amount + self.lost_competition_amount)

    @property
    def too_few(self) -> bool:
        return self.deals < TOO_FEW_DEALS

    def as_dict(self) -> dict:
        close_ci = wilson_interval(self.won, self.deals)
        win_ci = wilson_interval(self.won, self.won + self.lost_competition)
        return {
            "close_rate": self.close_rate, "close_rate_ci": close_ci and list(close_ci),
            "win_rate": self.win_rate, "win_rate_ci": win_ci and list(win_ci),
            "close_rate_amount": self.close_rate_amount, "win_rate_amount": self.win_rate_amount,
            "won": self.won, "lost_competition": self.lost_competition,
            "lost_no_decision": self.lost_no_decision,
            # The sums the amount rates rest on, so every figure can be reproduced.
            "won_amount": self.won_amount,
            "lost_competition_amount": self.lost_competition_amount,
            "lost_no_decision_amount": self.lost_no_decision_amount,
        }


def _outcome_sums(outcome, amount) -> list:
    """SUM(CASE…) columns for won, lost-competition, lost-no-decision; then their amounts."""
    kinds = ("won", "lost-competition", "lost-no-decision")
    counts = [func.sum(case((outcome == kind, 1), else_=0)) for kind in kinds]
    amounts = [func.sum(case((outcome == kind, func.coalesce(amount, 0)), else_=0))
               for kind in kinds]
    return counts + amounts


def _outcomes(sums) -> Outcomes:
    counts, amounts = sums[:3], sums[3:]
    return Outcomes(*(int(c or 0) for c in counts), *(float(a or 0) for a in amounts))


# ---- effectiveness ------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemEffect:
    slug: str
    outcomes: Outcomes  # over the closed deals the item influenced
    lift: float | None  # the item's close rate minus the baseline's

    @property
    def deals(self) -> int:
        return self.outcomes.deals

    def as_dict(self) -> dict:
        return {"slug": self.slug, "deals": self.deals, **self.outcomes.as_dict(),
                "lift": self.lift}


@dataclass(frozen=True)
class Effectiveness:
    period: Period
    baseline: Outcomes
    items: list[ItemEffect]

    def as_dict(self) -> dict:
        return {"baseline": self.baseline.as_dict(), "items": [i.as_dict() for i in self.items]}


def effectiveness(session: Session, when: Period) -> Effectiveness:
    """The baseline over every deal closed in the period, and each item over the closed
    deals it influenced, most deals first; items that influenced none are left out."""
    closed_in_period = and_(Deal.outcome.is_not(None), Deal.close_date.between(when.start, when.end))
    baseline = _outcomes(session.execute(
        select(*_outcome_sums(Deal.outcome, Deal.amount)).where(closed_in_period)).one())

    # One row per (item, deal): several events linking the same pair count once. The deals
    # come as an IN list so that even a database without statistics (SQLite before its
    # first ANALYZE) walks the (deal, kind, item, time) index from the few deals closed in
    # the period rather than every share and download ever recorded: 0.1 s, not 3 s.
    influenced = (
        select(UsageEvent.item_id, Deal.id.label("deal_id"), Deal.outcome, Deal.amount)
        .join(Deal, Deal.id == UsageEvent.deal_id)
        .where(UsageEvent.deal_id.in_(select(Deal.id).where(closed_in_period)),
               UsageEvent.kind.in_(INFLUENCE_KINDS), UsageEvent.item_id.is_not(None),
               func.date(UsageEvent.occurred_at) <= Deal.close_date)
        .distinct().subquery("influenced"))
    deal_count = func.count(influenced.c.deal_id)
    rows = session.execute(
        select(ContentItem.slug, *_outcome_sums(influenced.c.outcome, influenced.c.amount))
        .join(ContentItem, ContentItem.id == influenced.c.item_id)
        .group_by(ContentItem.id, ContentItem.slug)
        .order_by(deal_count.desc(), ContentItem.slug))
    items = []
    for slug, *sums in rows:
        outcomes = _outcomes(sums)
        lift = (None if outcomes.close_rate is None or baseline.close_rate is None
                else outcomes.close_rate - baseline.close_rate)
        items.append(ItemEffect(slug, outcomes, lift))
    return Effectiveness(when, baseline, items)


# ---- stages -------------------------------------------------------------------------------


class DaysBetween(FunctionElement):
    """Days (with fractions) from the second moment to the first: SQLite and PostgreSQL
    spell date arithmetic differently, so each gets its own SQL."""

    type = Float()
    name = "days_between"
    inherit_cache = True


@compiles(DaysBetween)
def _days_between(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM (CAST({later} AS TIMESTAMP) - {earlier})) / 86400.0)"


@compiles(DaysBetween, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({later}) - julianday({earlier}))"


@dataclass(frozen=True)
class StageConversion:
    slug: str
    name: str
    entered: int  # deals that entered the stage in the period
    left: int  # of those, the ones that have since left it (another stage, or closed)
    converted: int  # of those that left, the ones that reached a later stage or were won
    avg_days: float | None  # mean days in the stage of those that left

    @property
    def conversion(self) -> float | None:
        return _rate(self.converted, self.left)

    def as_dict(self) -> dict:
        return {"slug": self.slug, "entered": self.entered, "left": self.left,
                "converted": self.converted, "conversion": self.conversion,
                "avg_days": self.avg_days}


def stage_conversion(session: Session, when: Period) -> list[StageConversion]:
    """Every stage in order, over the deals that entered it in the period (their first entry).

    A deal leaves a stage at its next change to a different stage, or else at its close
    date; it converted when it later entered a stage further down the buyer's journey,
    or was won.
    """
    first_entry = func.min(DealStageEntry.entered_at)
    entry = (select(DealStageEntry.deal_id, DealStageEntry.stage, first_entry.label("entered_at"))
             .where(DealStageEntry.stage.is_not(None))
             .group_by(DealStageEntry.deal_id, DealStageEntry.stage)
             .having(first_entry >= when.first_moment, first_entry < when.after_last_moment)
             .subquery("entry"))
    # What happened after each entry, in one grouped join rather than correlated
    # subqueries, which PostgreSQL would run once per use of the column (a year of
    # 5,000 deals: 1.2 s that way, well under half that this way).
    after = aliased(DealStageEntry, name="after")
    this_stage, later_stage = aliased(Stage, name="this_stage"), aliased(Stage, name="later_stage")
    moves = (
        select(entry.c.deal_id, entry.c.stage,
               func.min(case((or_(after.stage.is_(None), after.stage != entry.c.stage),
                              after.entered_at))).label("next_change"),
               func.max(case((later_stage.position > this_stage.position, 1), else_=0))
               .label("reached_later"))
        .join(this_stage, this_stage.slug == entry.c.stage)
        .join(after, and_(after.deal_id == entry.c.deal_id, after.entered_at > entry.c.entered_at))
        .outerjoin(later_stage, later_stage.slug == after.stage)
        .group_by(entry.c.deal_id, entry.c.stage).subquery("moves"))
    left_at = func.coalesce(moves.c.next_change, case((Deal.is_closed, Deal.close_date)))
    converted = or_(Deal.outcome == "won", moves.c.reached_later == 1)
    passes = (
        select(entry.c.stage, entry.c.entered_at, left_at.label("left_at"),
               case((converted, 1), else_=0).label("converted"))
        .join(Deal, Deal.id == entry.c.deal_id)
        .outerjoin(moves, and_(moves.c.deal_id == entry.c.deal_id, moves.c.stage == entry.c.stage))
        .subquery("passes"))

    has_left = passes.c.left_at.is_not(None)
    days = DaysBetween(passes.c.left_at, passes.c.entered_at)
    figures = {
        slug: (entered, int(left or 0), int(converted or 0), avg_days)
        for slug, entered, left, converted, avg_days in session.execute(
            select(passes.c.stage, func.count(),
                   func.sum(case((has_left, 1), else_=0)),
                   func.sum(case((and_(has_left, passes.c.converted == 1), 1), else_=0)),
                   func.avg(case((has_left, case((days < 0, 0.0), else_=days)), else_=None)))
            .group_by(passes.c.stage))
    }
    result = []
    for slug, name in session.execute(select(Stage.slug, Stage.name).order_by(Stage.position,
                                                                              Stage.id)):
        entered, left, converted, avg_days = figures.get(slug, (0, 0, 0, None))
        result.append(StageConversion(slug, name, entered, left, converted,
                                      None if avg_days is None else float(avg_days)))
    return result
