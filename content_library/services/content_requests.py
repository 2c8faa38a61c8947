"""Requests to marketing for content that does not exist yet, and what marketing did with them.

A rep asks from a search that found nothing, an item or a stage page, saying for which stage
and stakeholder and what for. Marketing accepts (the content is planned), declines (saying
why) or completes the request by naming the published item that answers it. The requester
follows the status on "My requests". The last change keeps who made it and when.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..database import begin_write
from ..errors import Invalid, NotFound
from ..models import ContentItem, ContentRequest, Stage, Stakeholder, User, utcnow

# What a request carries besides the rep's words: the search it followed and its filters. The
# filters are a few tag slugs per facet; 4,000 characters of JSON is many times what any
# search page sets, and keeps a forged form from storing megabytes.
MAX_REQUEST_QUERY = 256
MAX_REQUEST_MESSAGE = 2000
MAX_REQUEST_FILTERS = 4000
MAX_NOTE = 2000

DECISIONS = ("accepted", "declined", "completed")
# Marketing's list shows these unless asked for another status.
TO_DO = ("open", "accepted")


def _filter_problems(filters: object) -> dict[str, str]:
    if not (isinstance(filters, dict) and all(
            isinstance(name, str) and isinstance(values, list)
            and all(isinstance(v, str) for v in values) for name, values in filters.items())):
        return {"filters": "The search filters sent with a request must be lists of tags."}
    if len(json.dumps(filters)) > MAX_REQUEST_FILTERS:
        return {"filters": f"The search filters sent with a request take at most "
                           f"{MAX_REQUEST_FILTERS:,} characters."}
    return {}


def request_problems(session: Session, *, message: str, query: str = "",
                     filters: object = None, stage: str | None = None,
                     stakeholder: str | None = None) -> dict[str, str]:
    """Everything wrong with a request, by field; reads only."""
    problems = _filter_problems({} if filters is None else filters)
    message = (message or "").strip()
    if not message and not (query or "").strip():
        problems["message"] = "Say what you need and what it is for."
    if len(message) > MAX_REQUEST_MESSAGE:
        problems["message"] = f"Use at most {MAX_REQUEST_MESSAGE:,} characters."
    if len(query or "") > MAX_REQUEST_QUERY:
        problems["query"] = (f"The search sent with a request has at most "
                             f"{MAX_REQUEST_QUERY} characters.")
    for name, model, value in (("stage", Stage, stage), ("stakeholder", Stakeholder, stakeholder)):
        if value and session.scalar(select(model.id).where(model.slug == value)) is None:
            problems[name] = f"Pick a {name} from the list, or none."
    return problems


def single_filter(filters: dict, facet: str) -> str | None:
    """A search narrowed to exactly one stage (or stakeholder) says which one the rep meant."""
    values = filters.get(facet) if isinstance(filters, dict) else None
    return values[0] if isinstance(values, list) and len(values) == 1 else None


def request_content(session: Session, user: User, *, message: str, query: str = "",
                    filters: dict | None = None, stage: str | None = None,
                    stakeholder: str | None = None,
                    asked_from: ContentItem | None = None) -> ContentRequest:
    query, message = query or "", (message or "").strip()
    filters = {} if filters is None else filters
    problems = request_problems(session, message=message, query=query, filters=filters,
                                stage=stage, stakeholder=stakeholder)
    if problems:
        raise Invalid(problems)
    begin_write(session)
    request = ContentRequest(requester_id=user.id, query=query, filters=filters, message=message,
                             stage=stage or None, stakeholder=stakeholder or None,
                             asked_from_id=asked_from.id if asked_from else None)
    session.add(request)
    session.commit()
    return request


def my_requests(session: Session, user: User) -> list[ContentRequest]:
    return list(session.scalars(select(ContentRequest)
                                .where(ContentRequest.requester_id == user.id)
                                .order_by(ContentRequest.created_at.desc(),
                                          ContentRequest.id.desc())))


def requests_for_marketing(session: Session, status: str | None = None) -> list[ContentRequest]:
    """The requests with this status, or those still to do (open and accepted), newest first."""
    wanted = (status,) if status else TO_DO
    return list(session.scalars(select(ContentRequest)
                                .where(ContentRequest.status.in_(wanted))
                                .order_by(ContentRequest.created_at.desc(),
                                          ContentRequest.id.desc())))


def get_request(session: Session, request_id: int) -> ContentRequest:
    request = session.get(ContentRequest, request_id)
    if request is None:
        raise NotFound(request_id)
    return request


def decision_problems(session: Session, status: str, answer: str | None,
                      note: str) -> dict[str, str]:
    problems = {}
    if status not in DECISIONS:
        problems["status"] = "Accept, decline or complete the request."
    if len(note or "") > MAX_NOTE:
        problems["note"] = f"Use at most {MAX_NOTE:,} characters."
    if status == "completed":
        if not answer:
            problems["answer"] = "Pick the item that answers the request."
        elif _published(session, answer) is None:
            problems["answer"] = "Pick a published item: the rep must be able to open it."
    if status == "declined" and not (note or "").strip():
        problems["note"] = "Say why, so the rep knows what to do instead."
    return problems


def _published(session: Session, slug: str) -> ContentItem | None:
    return session.scalar(select(ContentItem).where(ContentItem.slug == slug,
                                                    ContentItem.status == "published"))


def decide(session: Session, manager: User, request_id: int, status: str, *,
           answer: str | None = None, note: str = "") -> ContentRequest:
    """Accept, decline or complete a request; completing names the item that answers it."""
    note = (note or "").strip()
    problems = decision_problems(session, status, answer, note)
    if problems:
        raise Invalid(problems)
    begin_write(session)
    request = session.get(ContentRequest, request_id)
    if request is None:
        session.rollback()
        raise NotFound(request_id)
    request.status = status
    request.answered_by = _published(session, answer) if status == "completed" else None
    request.note = note
    request.decided_by_id, request.decided_at = manager.id, utcnow()
    session.commit()
    return request


def answer_choices(session: Session) -> list[tuple[str, str]]:
    """The published items a request can be answered with, as (slug, title), by title."""
    return list(session.execute(select(ContentItem.slug, ContentItem.title)
                                .where(ContentItem.status == "published")
                                .order_by(ContentItem.title)))
