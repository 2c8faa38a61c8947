"""Counting attempts in a time window, across every worker process: the log-in throttle's way,
shared by whatever else must be rate-limited (generating documents).

Each attempt is a row keyed by a string ("account:…", "generate:address:…") in the
`login_failures` table, counted and recorded in one atomic step, so a burst of simultaneous
requests gets at most `limit` through. Nothing locks anyone out for good: the window passes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..database import begin_write
from ..models import LoginFailure, utcnow

# No window is longer than this: older attempts of any kind are deleted on the way.
FORGET_AFTER = timedelta(days=1)


class Throttled(Exception):
    """Too many attempts in the window; `retry_after` is in whole seconds, at least 1."""

    def __init__(self, retry_after: int, message: str = "Too many attempts"):
        self.retry_after = retry_after
        super().__init__(f"{message}: try again in {retry_after} seconds.")


def _lock_keys(session: Session, keys: Sequence[str]) -> None:
    """Make the count-and-record step one at a time per key. SQLite's BEGIN IMMEDIATE
    (begin_write) already serialises writers; PostgreSQL's read committed does not, so two
    requests could both count nine and both record a tenth attempt."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted({int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
                  for key in keys})  # in one order, so two requests never wait on each other
    for lock_id in ids:
        session.execute(select(func.pg_advisory_xact_lock(lock_id)))


def record_attempt(session: Session, keys: Sequence[str], *, window: timedelta, limit: int,
                   message: str = "Too many attempts") -> list[LoginFailure]:
    """Count this attempt against each key, in one atomic step with the limit check, and
    commit. Raises Throttled (recording nothing) when any key already has `limit` attempts
    within `window`. Returns the rows recorded, so a caller may take them back."""
    begin_write(session)
    _lock_keys(session, keys)
    now = utcnow()
    since = now - window
    session.execute(delete(LoginFailure).where(
        (LoginFailure.at < now - FORGET_AFTER)
        | (LoginFailure.key.in_(list(keys)) & (LoginFailure.at < since))))
    for key in keys:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.key == key, LoginFailure.at >= since
            )
        ).one()
        if count >= limit:
            session.commit()
            retry = int((oldest + window - now).total_seconds()) + 1
            raise Throttled(max(retry, 1), message)
    attempt = [LoginFailure(key=key, at=now) for key in keys]
    session.add_all(attempt)
    session.commit()
    return attempt
