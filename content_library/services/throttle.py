"""Attempts counted in the database, so every worker process shares one count: failed log-ins
per account and per address, and share-link opens per address.

Each attempt is one row (`LoginFailure`: a key and a moment). Counting and recording happen in
one step under the write lock (`BEGIN IMMEDIATE` on SQLite, an advisory lock per key on
PostgreSQL), so a burst of simultaneous attempts cannot all count below the limit at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..database import begin_write
from ..models import LoginFailure, utcnow

# Every throttle counts over the same window: attempts older than it are deleted by whichever
# throttle runs next, so one window for all keeps each throttle's rows as long as it needs.
WINDOW = timedelta(minutes=15)


class Throttled(Exception):
    def __init__(self, retry_after: int, what: str = "attempts"):
        self.retry_after = retry_after
        super().__init__(f"Too many {what}: try again in {retry_after} seconds.")


@dataclass(frozen=True)
class Limit:
    """At most `most` attempts under `key` within the window. An attempt is recorded under
    the key when `counts`; otherwise the key is only checked (its rows are added elsewhere,
    by `record`, once the attempt turned out to be one that counts)."""

    key: str
    most: int
    counts: bool = True


def _lock_keys(session: Session, keys: Sequence[str]) -> None:
    """Make the count-and-record step one at a time per key. SQLite's BEGIN IMMEDIATE
    (begin_write) already serialises writers; PostgreSQL's read committed does not, so two
    attempts could both count nine and both record a tenth."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted({int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
                  for key in keys})  # in one order, so two attempts never wait on each other
    for lock_id in ids:
        session.execute(select(func.pg_advisory_xact_lock(lock_id)))


def take_turn(session: Session, limits: Sequence[Limit], now: datetime | None = None,
              what: str = "attempts") -> list[LoginFailure]:
    """Check every limit and, when none is reached, record this attempt under the keys that
    count; commits. Raises Throttled when a key is at its limit, with the seconds until that
    key's oldest attempt leaves the window (`what` names the attempts in the message).
    Returns the rows recorded, so a caller can take them back (a successful log-in does)."""
    begin_write(session)
    _lock_keys(session, [limit.key for limit in limits])
    now = now or utcnow()
    since = now - WINDOW
    session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    for limit in limits:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.key == limit.key, LoginFailure.at >= since)
        ).one()
        if count >= limit.most:
            session.commit()
            retry = int((oldest + WINDOW - now).total_seconds()) + 1
            raise Throttled(max(retry, 1), what)
    attempt = [LoginFailure(key=limit.key, at=now) for limit in limits if limit.counts]
    session.add_all(attempt)
    session.commit()
    return attempt


def record(session: Session, key: str, now: datetime | None = None) -> None:
    """Count one more attempt under `key` (checked by a later `take_turn`)."""
    begin_write(session)
    session.add(LoginFailure(key=key, at=now or utcnow()))
    session.commit()
