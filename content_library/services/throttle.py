"""Attempts counted where every worker process of every host sees them: failed log-ins per
account and per address, share-page requests per address, document generations per client.

By default in the database: each attempt is one row (`LoginFailure`: a key and a moment).
Counting and recording happen in one step under the write lock (`BEGIN IMMEDIATE` on SQLite,
an advisory lock per key on PostgreSQL), so a burst of simultaneous attempts cannot all count
below the limit at once.

With PORTAL_REDIS_URL set, the throttles that only count (share pages, generations) are kept
in Redis instead, by `SharedCounts`: the `limits` library's moving window (the storage that
Flask-Limiter uses), which takes one short Redis call per request off the database. Log-in
failures stay in the database: a successful log-in takes its attempt back, which needs the
count, the record and the taking back in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import time
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

log = logging.getLogger(__name__)


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


class SharedCounts:
    """Attempts counted in Redis over the same WINDOW, by the `limits` library's moving-window
    limiter. `prefix` starts every key, so deployments (and test runs) sharing one Redis
    never count together. When Redis does not answer, `take_turn` and `record` fall back on
    the database: a buyer is served, and still counted."""

    def __init__(self, url: str, prefix: str = "portal") -> None:
        from limits import RateLimitItemPerSecond
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self._limiter = MovingWindowRateLimiter(storage_from_string(
            url, key_prefix=prefix, wrap_exceptions=True, socket_timeout=2,
            socket_connect_timeout=2))
        self._seconds = int(WINDOW.total_seconds())
        self._item = RateLimitItemPerSecond

    def _window(self, limit: Limit):
        return self._item(limit.most, self._seconds)

    def _throttled(self, limit: Limit, what: str) -> Throttled:
        reset_at = self._limiter.get_window_stats(self._window(limit), limit.key).reset_time
        return Throttled(max(int(reset_at - time.time()) + 1, 1), what)

    def take_turn(self, limits: Sequence[Limit], what: str) -> None:
        # Every limit checked before any is counted, so a refused attempt counts nowhere; a
        # counting hit is atomic in Redis (a simultaneous attempt can still be refused there).
        for limit in limits:
            if not self._limiter.test(self._window(limit), limit.key):
                raise self._throttled(limit, what)
        for limit in limits:
            if limit.counts and not self._limiter.hit(self._window(limit), limit.key):
                raise self._throttled(limit, what)

    def record(self, limit: Limit) -> None:
        self._limiter.hit(self._window(limit), limit.key)


def _storage_error() -> type[Exception]:
    from limits.errors import StorageError

    return StorageError


def take_turn(session: Session, limits: Sequence[Limit], now: datetime | None = None,
              what: str = "attempts", shared: SharedCounts | None = None) -> list[LoginFailure]:
    """Check every limit and, when none is reached, record this attempt under the keys that
    count; commits. Raises Throttled when a key is at its limit, with the seconds until that
    key's oldest attempt leaves the window (`what` names the attempts in the message).
    Returns the rows recorded, so a caller can take them back (a successful log-in does).
    With `shared`, counts there instead, and returns no rows (nothing to take back)."""
    if shared is not None:
        try:
            shared.take_turn(limits, what)
            return []
        except _storage_error() as exc:
            log.warning("Redis did not answer (%s): counting in the database", exc)
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


def record(session: Session, limit: Limit, now: datetime | None = None,
           shared: SharedCounts | None = None) -> None:
    """Count one more attempt under the limit's key (checked by a later `take_turn`)."""
    if shared is not None:
        try:
            shared.record(limit)
            return
        except _storage_error() as exc:
            log.warning("Redis did not answer (%s): counting in the database", exc)
    begin_write(session)
    session.add(LoginFailure(key=limit.key, at=now or utcnow()))
    session.commit()
