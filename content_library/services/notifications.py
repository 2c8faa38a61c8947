"""Notes in a person's portal ("the link you sent was opened"): counted in the header while
unread, listed on their notifications page, which marks the ones it showed as read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..database import begin_write
from ..models import Notification, User, utcnow

PAGE = 100


def unread_count(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def latest(session: Session, user: User, limit: int = PAGE) -> list[Notification]:
    """The person's notifications, newest first."""
    return list(session.scalars(
        select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def mark_read(session: Session, user: User, shown: Sequence[Notification],
              now: datetime | None = None) -> int:
    """Mark as read the unread ones among those shown to the person; returns how many."""
    ids = [n.id for n in shown if n.read_at is None and n.user_id == user.id]
    if not ids:
        return 0
    begin_write(session)
    done = session.execute(
        update(Notification).where(Notification.id.in_(ids), Notification.read_at.is_(None))
        .values(read_at=now or utcnow()).execution_options(synchronize_session=False)).rowcount
    session.commit()
    return done
