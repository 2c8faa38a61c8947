"""Recording usage events: after the person's action, never at its cost.

A page records what happened once its own work is done, on a connection of its own and in
a transaction of its own, waiting only briefly for the database. When the database refuses
(busy, down, a table missing), the events wait in a small in-process backlog and go in with
the next recording; a failure is logged, never raised to the page. What this cannot save:
a backlog still in memory when its process is killed (a normal exit flushes it), and the
oldest events once the backlog is full. Both need the database to have refused writes
first; docs/analytics.md says so.

An event that *is* the person's action (feedback, a client's POST to the usage API) is
written at once with the ordinary busy wait, and its failure is the caller's to report:
nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.orm import Session

from ..database import begin_write, make_engine
from ..errors import Invalid, NotFound
from ..models import ARGUMENT_FIELDS, USAGE_KINDS, ContentItem, Deal, Stage, UsageEvent, User, utcnow

# How long a page waits for the write lock, per attempt, before leaving its events to the
# next recording: a page is never held up for long by someone else's long write.
PAGE_WAIT_MS = 150
PAGE_ATTEMPTS = 2
# Events kept in memory while the database refuses writes; beyond it the oldest are dropped.
BACKLOG = 10_000
RETENTION_DAYS = 730
# Each retention pass forgets at most this many events in one transaction, so the process
# that runs it on a page's time holds the write lock for milliseconds, not seconds.
FORGET_BATCH = 5_000
MAX_QUERY = 256
MAX_COMMENT = 2_000

# What a client may report through the usage API (INTERFACES section 6).
API_KINDS = ("view", "download", "share", "copy", "used_in_deal")

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """One usage event as plain values: what a row of usage_events will hold."""

    kind: str
    item_id: int | None = None
    item_slug: str | None = None
    user_id: int | None = None
    role: str = ""
    deal_id: int | None = None
    stage: str | None = None
    details: dict = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=utcnow)


def event(kind: str, *, item: ContentItem | None = None, user: User | None = None,
          deal: Deal | None = None, stage: str | None = None, **details) -> Event:
    if kind not in USAGE_KINDS:
        raise ValueError(f"unknown usage kind {kind!r}")
    return Event(kind=kind, item_id=item.id if item else None, item_slug=item.slug if item else None,
                 user_id=user.id if user else None, role=user.role if user else "",
                 deal_id=deal.id if deal else None, stage=stage, details=details)


def search_event(user: User | None, text: str, filters: dict, results: int,
                 stage: str | None = None) -> Event | None:
    """A search worth recording: words or filters on its first page; browsing nothing is not."""
    words = " ".join((text or "").split())[:MAX_QUERY]
    chosen = {name: list(values) for name, values in filters.items() if values}
    if not words and not chosen:
        return None
    return event("search", user=user, stage=stage, query=words, filters=chosen, results=results)


def _insert(connection: Connection, events: list[Event]) -> None:
    # One multi-row INSERT: a single statement, so all or nothing even without a transaction.
    connection.execute(insert(UsageEvent), [asdict(e) for e in events])


def write(engine: Engine, events: list[Event]) -> None:
    """Store events in one short transaction on a connection of their own. Raises on failure."""
    with engine.begin() as connection:
        _insert(connection, events)


def recording_engine(url: str, wait_ms: int = PAGE_WAIT_MS) -> Engine:
    """Connections of the recorder's own, tuned for one quick INSERT after a page's work:
    a lock is waited for at most `wait_ms`. On PostgreSQL each statement commits by itself
    (one round trip instead of four: on a busy machine each costs a wait for the server's
    turn on a core) and the commit does not wait for the disk: only a crash of the database
    server itself, within a fraction of a second, could lose such a row, and no one was told
    it was stored."""
    if url.startswith("sqlite"):
        return make_engine(url, busy_ms=wait_ms, pool_size=2, max_overflow=8)
    # No ping before each use either: a connection the server dropped fails its INSERT, is
    # replaced, and the second attempt goes through.
    return make_engine(url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=8,
                       pool_pre_ping=False,
                       connect_args={"options": f"-c lock_timeout={int(wait_ms)}ms "
                                                "-c synchronous_commit=off"})


class Recorder:
    """One per app: records events for pages, keeps a backlog, forgets old identities daily."""

    def __init__(self, url: str, retention_days: int = RETENTION_DAYS,
                 backlog: int = BACKLOG) -> None:
        self.engine = recording_engine(url)
        self.retention_days = retention_days
        self._backlog: deque[Event] = deque(maxlen=backlog)
        self._lock = threading.Lock()
        self._forgotten_at: datetime | None = None
        _recorders.add(self)

    @property
    def waiting(self) -> int:
        return len(self._backlog)

    def record(self, *events: Event) -> bool:
        """Best effort: store these events and any left waiting; never raises.

        Returns whether everything is stored."""
        with self._lock:
            pending = [*self._backlog, *events]
            self._backlog.clear()
        if not pending:
            return True
        for attempt in range(PAGE_ATTEMPTS):
            try:
                write(self.engine, pending)
                break
            except Exception as exc:  # a recording must never break the page
                if attempt + 1 == PAGE_ATTEMPTS:
                    self._keep_for_later(pending, exc)
                    return False
        self._forget_daily()
        return True

    def after_fork(self) -> None:
        """In a process forked from this one: the connections and the events waiting are
        the parent's (it writes them); this process opens and keeps its own."""
        self.engine.dispose(close=False)
        self._lock = threading.Lock()
        self._backlog.clear()

    def flush(self) -> bool:
        """Store whatever is waiting (called at a normal exit too)."""
        return self.record() if self._backlog else True

    def _keep_for_later(self, pending: list[Event], exc: Exception) -> None:
        with self._lock:
            room = self._backlog.maxlen - len(self._backlog)
            # The newest events matter as much as the oldest; when full, the oldest go.
            self._backlog.extendleft(reversed(pending[-room:] if room else []))
            lost = max(0, len(pending) - room)
        _log.warning("usage not recorded yet (%d waiting, %d dropped): %s",
                     len(self._backlog), lost, str(exc).splitlines()[0] if str(exc) else exc)

    def _forget_daily(self) -> None:
        now = utcnow()
        if self._forgotten_at is not None and now - self._forgotten_at < timedelta(days=1):
            return
        try:
            with self.engine.begin() as connection:
                done = _forget_batch(connection, now - timedelta(days=self.retention_days))
            # A full batch means more remain: the next recording takes the next batch.
            if done < FORGET_BATCH:
                self._forgotten_at = now
        except Exception as exc:
            _log.warning("old usage not anonymised yet: %s", exc)
            self._forgotten_at = now


# Every live recorder, flushed at a normal exit; weakly held, so a recorder (and its
# connections) goes with its app.
_recorders: weakref.WeakSet[Recorder] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    for recorder in list(_recorders):
        recorder.flush()


def _forget_batch(connection: Connection, cutoff: datetime) -> int:
    oldest = (select(UsageEvent.id)
              .where(UsageEvent.user_id.is_not(None), UsageEvent.occurred_at < cutoff)
              .limit(FORGET_BATCH))
    result = connection.execute(update(UsageEvent).where(UsageEvent.id.in_(oldest))
                                .values(user_id=None).execution_options(synchronize_session=False))
    return result.rowcount


def forget_old(engine: Engine, days: int = RETENTION_DAYS, now: datetime | None = None) -> int:
    """Events older than `days` lose who did them (their role stays, so counts survive).
    Returns how many were anonymised."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    total = 0
    while True:
        with engine.begin() as connection:
            done = _forget_batch(connection, cutoff)
        total += done
        if done < FORGET_BATCH:
            return total


# ---- what pages and clients report -------------------------------------------------------


def known_stage(session: Session, slug: str | None) -> str | None:
    """The stage context a page carried, if it names a stage of the taxonomy."""
    if not slug or len(slug) > 120:
        return None
    return session.scalar(select(Stage.slug).where(Stage.slug == slug))


def find_deal(session: Session, crm_id: str | None) -> Deal | None:
    """The deal with this CRM id; NotFound when there is none (or more than one CRM uses it)."""
    if crm_id is None:
        return None
    if not isinstance(crm_id, str) or not crm_id or len(crm_id) > 64:
        raise NotFound(crm_id)
    deals = session.scalars(select(Deal).where(Deal.crm_id == crm_id).limit(2)).all()
    if len(deals) != 1:
        raise NotFound(crm_id)
    return deals[0]


def copied_part(part: str | None) -> str:
    if part not in ARGUMENT_FIELDS:
        raise Invalid({"part": "Name the argument part that was copied."})
    return part


def feedback_event(item: ContentItem, user: User, useful: bool, comment: str,
                   stage: str | None = None) -> Event:
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise Invalid({"comment": f"Use at most {MAX_COMMENT:,} characters."})
    return event("feedback", item=item, user=user, stage=stage, useful=bool(useful), comment=comment)


def keep(session: Session, events: Iterable[Event]) -> None:
    """Store events that are the person's action itself, in the session's own transaction
    (the ordinary busy wait); raises when they could not be stored."""
    begin_write(session)
    _insert(session.connection(), list(events))
    session.commit()
