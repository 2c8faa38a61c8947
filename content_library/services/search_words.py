"""Synonyms managers edit, and the search log."""

from __future__ import annotations

import logging
import re

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from ..database import SQLITE_BUSY_MS, begin_write
from ..errors import Invalid, NotFound
from ..models import SearchLog, SynonymGroup, utcnow

MAX_TERMS = 12
MAX_TERM_LENGTH = 60
# A search never waits longer than this to write its log row (see log_search).
LOG_WAIT_MS = 200

_log = logging.getLogger(__name__)


def synonym_groups(session: Session) -> list[SynonymGroup]:
    return list(session.scalars(select(SynonymGroup).order_by(SynonymGroup.id)))


def synonym_table(session: Session) -> tuple[tuple[str, ...], ...]:
    """Every group as a tuple of lowercase terms: what the search backend expands with."""
    return tuple(tuple(group.terms) for group in synonym_groups(session) if len(group.terms) > 1)


def parse_terms(text: str) -> list[str]:
    """'ROI = return on investment, payback' → ['roi', 'return on investment', 'payback']."""
    parts = re.split(r"[=,\n;]+", text or "")
    terms: list[str] = []
    for part in parts:
        term = " ".join(re.findall(r"[\w'-]+", part.lower()))
        if term and term not in terms:
            terms.append(term)
    return terms


def save_synonyms(session: Session, text: str, group_id: int | None = None) -> SynonymGroup:
    terms = parse_terms(text)
    if len(terms) < 2:
        raise Invalid({"terms": "Give at least two words or phrases that mean the same, "
                                "separated by '=' or ','."})
    if len(terms) > MAX_TERMS:
        raise Invalid({"terms": f"Use at most {MAX_TERMS} words or phrases in one group."})
    if any(len(t) > MAX_TERM_LENGTH for t in terms):
        raise Invalid({"terms": f"Keep each phrase under {MAX_TERM_LENGTH} characters."})
    begin_write(session)
    group = session.get(SynonymGroup, group_id) if group_id else SynonymGroup()
    if group is None:
        session.rollback()
        raise NotFound(group_id)
    same = next((g for g in synonym_groups(session)
                 if g.id != group.id and set(terms) <= set(g.terms)), None)
    if same is not None:
        session.rollback()
        raise Invalid({"terms": "These already mean the same in an existing group: "
                                f"{' = '.join(same.terms)}."})
    group.terms = terms
    group.updated_at = utcnow()
    session.add(group)
    session.commit()
    return group


def delete_synonyms(session: Session, group_id: int) -> None:
    begin_write(session)
    group = session.get(SynonymGroup, group_id)
    if group is not None:
        session.delete(group)
    session.commit()


def log_search(session: Session, query: str, results: int, role: str) -> bool:
    """Only what the person typed, normalised; browsing with no words is not a search.

    Best effort: the search has already been answered, so a busy database (a long write
    elsewhere) costs this row, never the search. The row goes in on a connection of its own
    that waits at most LOG_WAIT_MS for the write lock. Returns whether it was written.
    """
    words = " ".join((query or "").lower().split())[:256]
    if not words:
        return False
    row = {"query": words, "results": results, "role": role or "anonymous"}
    with session.get_bind().connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        try:
            with connection.begin():
                connection.exec_driver_sql(f"PRAGMA busy_timeout={LOG_WAIT_MS}" if sqlite else
                                           f"SET LOCAL lock_timeout = '{LOG_WAIT_MS}ms'")
                connection.execute(insert(SearchLog).values(**row))
            return True
        except OperationalError as exc:
            _log.warning("search not logged, the database is busy: %s", exc.orig)
            return False
        finally:
            if sqlite:
                _restore_busy_timeout(connection)


def _restore_busy_timeout(connection: Connection) -> None:
    """The connection goes back to the pool for ordinary writers, who wait the usual time;
    one that cannot be reset is dropped instead."""
    try:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    except DBAPIError:
        connection.invalidate()
