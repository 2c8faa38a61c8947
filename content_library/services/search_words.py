"""Synonyms managers edit, the search log, and requests to marketing for missing content."""

from __future__ import annotations

import json
import logging
import re

from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..database import SQLITE_BUSY_MS, begin_write
from ..errors import Invalid, NotFound
from ..models import ContentRequest, SearchLog, SynonymGroup, User, utcnow

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
            if sqlite:  # the connection goes back to the pool for ordinary writers
                connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")


# What a request carries besides the rep's words: the search it followed and its filters. The
# filters are a few tag slugs per facet; 4,000 characters of JSON is many times what any
# search page sets, and keeps a forged form from storing megabytes.
MAX_REQUEST_QUERY = 256
MAX_REQUEST_MESSAGE = 2000
MAX_REQUEST_FILTERS = 4000


def _request_problems(query: str, filters: object, message: str) -> dict[str, str]:
    problems = {}
    if not message and not query.strip():
        problems["message"] = "Say what you were looking for."
    if len(message) > MAX_REQUEST_MESSAGE:
        problems["message"] = f"Use at most {MAX_REQUEST_MESSAGE:,} characters."
    if len(query) > MAX_REQUEST_QUERY:
        problems["query"] = f"The search sent with a request has at most {MAX_REQUEST_QUERY} characters."
    if not (isinstance(filters, dict) and all(
            isinstance(name, str) and isinstance(values, list)
            and all(isinstance(v, str) for v in values) for name, values in filters.items())):
        problems["filters"] = "The search filters sent with a request must be lists of tags."
    elif len(json.dumps(filters)) > MAX_REQUEST_FILTERS:
        problems["filters"] = (f"The search filters sent with a request take at most "
                               f"{MAX_REQUEST_FILTERS:,} characters.")
    return problems


def request_content(session: Session, user: User, query: str, filters: dict,
                    message: str) -> ContentRequest:
    query, message = query or "", (message or "").strip()
    problems = _request_problems(query, filters, message)
    if problems:
        raise Invalid(problems)
    begin_write(session)
    request = ContentRequest(requester_id=user.id, query=query, filters=filters, message=message)
    session.add(request)
    session.commit()
    return request


def open_requests(session: Session) -> list[ContentRequest]:
    return list(session.scalars(select(ContentRequest).where(ContentRequest.done.is_(False))
                                .order_by(ContentRequest.created_at.desc())))


def close_request(session: Session, request_id: int) -> None:
    begin_write(session)
    request = session.get(ContentRequest, request_id)
    if request is None:
        session.rollback()
        raise NotFound(request_id)
    request.done = True
    session.commit()
