"""Usage as a ranking signal: what reps use comes first, and old favourites fade.

One figure per item, the decayed use: every use counts 2^(-age / HALF_LIFE_DAYS), so a use
today counts 1, a month ago 1/2, two months ago 1/4. The database counts the uses per item
and week of age (GROUP BY; neither SQLite nor PostgreSQL has a portable exp()), and each
week weighs as its middle day; uses older than HORIZON_DAYS count nothing.

- Stage pages order by the decayed use **at that stage** (events whose stage context is it).
- Search boosts by `usage_score` = decayed / (decayed + HALF_SCORE_USES), 0..1, in steps of
  SCORE_STEP. An item's score depends only on its own use, so one item's popularity never
  moves the others'; the steps bound how often the index must be rewritten.

docs/analytics.md, "Usage in ranking", says the same for managers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Integer, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from ..models import ContentItem, UsageEvent, utcnow
from ..records import USAGE_MARK

HALF_LIFE_DAYS = 30
WEEK_DAYS = 7
HORIZON_DAYS = 8 * HALF_LIFE_DAYS  # beyond it a use weighs under 1/256: left out
HALF_SCORE_USES = 20.0  # decayed uses at which the search score is 0.5 (about 1 use every 2 days)
SCORE_STEP = 0.05
# Someone did something with the item. Not search_open (its view is counted), not a buyer's
# share_open, not feedback (it may say the item did not help).
RANKING_KINDS = ("view", "download", "copy", "used_in_deal", "share", "template_generated")
# The fingerprint of an indexed record ends with this and the score's step (none at 0), so
# the index's own fingerprints say which score it ranks with.
STEP_MARK = USAGE_MARK


class WeeksAgo(FunctionElement):
    """Whole weeks from an event to `now`: SQLite and PostgreSQL spell date arithmetic and
    truncation differently, so each gets its own SQL."""

    type = Integer()
    name = "weeks_ago"
    inherit_cache = True


@compiles(WeeksAgo)
def _weeks_ago(element, compiler, **kw):
    now, moment = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM (CAST({now} AS TIMESTAMP) - {moment})) / 604800) AS INTEGER)"


@compiles(WeeksAgo, "sqlite")
def _weeks_ago_sqlite(element, compiler, **kw):
    now, moment = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST((julianday({now}) - julianday({moment})) / 7 AS INTEGER)"


def _week_weight(weeks: int) -> float:
    # Each week weighs as its middle day.
    return 2 ** (-(weeks * WEEK_DAYS + WEEK_DAYS / 2) / HALF_LIFE_DAYS)


def decayed_use(session: Session, item_ids: Iterable[int] | None = None,
                stage: str | None = None, now: datetime | None = None) -> dict[int, float]:
    """Decayed uses by item id, for these items (None: every item), at this stage (None:
    anywhere). Items never used, or not within the horizon, are absent.

    The database counts uses per item and week (GROUP BY); Python weighs the few rows."""
    now = now or utcnow()
    since = now - timedelta(days=HORIZON_DAYS)
    weeks = WeeksAgo(literal(now, DateTime()), UsageEvent.occurred_at).label("weeks")
    kind = UsageEvent.kind
    if item_ids is not None:
        # `kind || ''` keeps SQLite (which has no statistics before an ANALYZE) from walking
        # the (kind, time) index through every recent event instead of these items' own.
        kind = kind.concat("")
    stmt = (select(UsageEvent.item_id, weeks, func.count())
            .where(kind.in_(RANKING_KINDS), UsageEvent.item_id.is_not(None),
                   UsageEvent.occurred_at >= since, UsageEvent.occurred_at <= now)
            .group_by(UsageEvent.item_id, weeks))
    if stage is not None:
        stmt = stmt.where(UsageEvent.stage == stage)
    chunks = [stmt]
    if item_ids is not None:
        ids = list(set(item_ids))
        chunks = [stmt.where(UsageEvent.item_id.in_(ids[start:start + 500]))  # bounded IN lists
                  for start in range(0, len(ids), 500)]
    found: dict[int, float] = {}
    for chunk in chunks:
        for item_id, week, uses in session.execute(chunk):
            found[item_id] = found.get(item_id, 0.0) + uses * _week_weight(max(int(week), 0))
    return found


def search_score(decayed: float) -> float:
    """0..1 in steps of SCORE_STEP: decayed / (decayed + HALF_SCORE_USES)."""
    raw = decayed / (decayed + HALF_SCORE_USES) if decayed > 0 else 0.0
    return round(round(raw / SCORE_STEP) * SCORE_STEP, 2)


def search_scores(session: Session, item_ids: Iterable[int] | None = None,
                  now: datetime | None = None) -> dict[int, float]:
    """The search score of each item that has one (0 for the rest), by item id."""
    scores = {item_id: search_score(total)
              for item_id, total in decayed_use(session, item_ids, now=now).items()}
    return {item_id: score for item_id, score in scores.items() if score > 0}


def step_mark(score: float) -> str:
    """What ends the fingerprint of a record indexed with this score."""
    step = round(score / SCORE_STEP)
    return f"{STEP_MARK}{step}" if step else ""


def indexed_score(fingerprint: str) -> float:
    """The score an indexed record was ranked with, read back from its fingerprint."""
    _, mark, step = fingerprint.rpartition(STEP_MARK)
    return round(int(step) * SCORE_STEP, 2) if mark and step.isdigit() else 0.0


def moved_scores(session: Session, indexed: Mapping[str, str],
                 now: datetime | None = None) -> list[str]:
    """Slugs of indexed items whose search score moved to another step since indexing,
    given the index's fingerprints by slug. One GROUP BY; nothing is rendered."""
    scores = search_scores(session, now=now)
    moved = []
    for item_id, slug in session.execute(select(ContentItem.id, ContentItem.slug)):
        fingerprint = indexed.get(slug)
        if fingerprint is not None and indexed_score(fingerprint) != scores.get(item_id, 0.0):
            moved.append(slug)
    return sorted(moved)
