"""What the search index is fed: plain records built from the database, and the change log.

The search backends never see ORM objects; they get SearchableItem records and the
pending entries of the durable change log written by the item services.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator

from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload

from ..database import begin_write, is_busy
from ..models import ARGUMENT_PARTS, ContentItem, IndexChange
from ..records import ItemChange, SearchableItem
from ..rendering import markdown_to_text
from .usage_ranking import search_scores, step_mark

log = logging.getLogger(__name__)


def argument_text(argument: dict) -> str:
    parts = []
    for name, _, is_list in ARGUMENT_PARTS:
        value = (argument or {}).get(name)
        if value:
            parts.append(" ".join(value) if is_list else value)
    return "\n".join(parts)


def searchable(item: ContentItem, usage_score: float = 0.0) -> SearchableItem:
    tags = [*item.stages, *item.stakeholders, *item.solutions, *item.verticals, item.type]
    fields = dict(
        slug=item.slug,
        title=item.title,
        summary=item.summary,
        body_text=markdown_to_text(item.body),
        argument_text=argument_text(item.argument),
        file_text=(item.file.text or "") if item.file else "",
        tag_names=" ".join(t.name for t in tags),
        type=item.type.slug,
        audience=item.audience,
        status=item.status,
        stages=tuple(t.slug for t in item.stages),
        stakeholders=tuple(t.slug for t in item.stakeholders),
        solutions=tuple(t.slug for t in item.solutions),
        verticals=tuple(t.slug for t in item.verticals),
        updated_at=item.updated_at,
        review_by=item.review_by,
    )
    digest = hashlib.sha256(json.dumps(fields, default=str, sort_keys=True).encode()).hexdigest()
    # The usage step rides on the fingerprint: `usage refresh-ranking` reads it back.
    return SearchableItem(**fields, usage_score=usage_score,
                          fingerprint=digest[:32] + step_mark(usage_score))


def _loaded():
    return select(ContentItem).options(
        selectinload(ContentItem.stages), selectinload(ContentItem.stakeholders),
        selectinload(ContentItem.solutions), selectinload(ContentItem.verticals),
        selectinload(ContentItem.type), selectinload(ContentItem.file),
    )


def records_for(session: Session, slugs: Iterable[str]) -> dict[str, SearchableItem]:
    slugs = list(set(slugs))
    found: dict[str, SearchableItem] = {}
    for start in range(0, len(slugs), 500):
        chunk = slugs[start:start + 500]
        items = list(session.scalars(_loaded().where(ContentItem.slug.in_(chunk))))
        scores = search_scores(session, [item.id for item in items])
        for item in items:
            found[item.slug] = searchable(item, scores.get(item.id, 0.0))
    return found


def all_records(session: Session, batch: int = 500) -> Iterator[SearchableItem]:
    last_id = 0
    scores = search_scores(session)
    while True:
        items = list(session.scalars(
            _loaded().where(ContentItem.id > last_id).order_by(ContentItem.id).limit(batch)))
        if not items:
            return
        for item in items:
            yield searchable(item, scores.get(item.id, 0.0))
        last_id = items[-1].id
        session.expunge_all()


def pending_changes(session: Session, limit: int = 1000) -> list[ItemChange]:
    rows = session.execute(
        select(IndexChange.id, IndexChange.slug, IndexChange.op).order_by(IndexChange.id).limit(limit)
    )
    return [ItemChange(id=r.id, slug=r.slug, op=r.op) for r in rows]


ACKNOWLEDGE_TRIES = 3


def acknowledge(session: Session, change_ids: Iterable[int]) -> bool:
    """Delete applied change records; False when the database stayed too busy to (they are
    then applied again by a later drain, which does no harm). The write lock is taken up
    front: a transaction that had read first could not wait for it on SQLite."""
    ids = list(change_ids)
    for attempt in range(ACKNOWLEDGE_TRIES):
        try:
            begin_write(session)
            for start in range(0, len(ids), 500):
                session.execute(delete(IndexChange).where(IndexChange.id.in_(ids[start:start + 500])))
            session.commit()
            return True
        except OperationalError as exc:
            session.rollback()
            if not is_busy(exc):
                raise
            log.info("index change log busy (try %d of %d)", attempt + 1, ACKNOWLEDGE_TRIES)
    return False


class DatabaseFeed:
    """The index's view of the database, bound to one session."""

    def __init__(self, session: Session):
        self.session = session

    def pending(self, limit: int = 1000) -> list[ItemChange]:
        return pending_changes(self.session, limit)

    def records(self, slugs: Iterable[str]) -> dict[str, SearchableItem]:
        return records_for(self.session, slugs)

    def everything(self) -> Iterator[SearchableItem]:
        return all_records(self.session)

    def acknowledge(self, change_ids: Iterable[int]) -> bool:
        return acknowledge(self.session, change_ids)

    def catch_up(self) -> None:
        # SQLite reads from the snapshot its transaction began with; a new one sees all.
        self.session.rollback()
