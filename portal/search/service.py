"""One search, from what a person typed to cards they may see.

The backend answers slugs in order with visibility applied inside the engine; every hit
is then re-checked against the database, the source of truth, before anyone sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from content_library import visibility
from content_library.models import ContentItem, User
from content_library.records import ItemCard
from content_library.services import catalog
from content_library.services.search_words import log_search, synonym_table
from search_index import FACETS, SearchQuery, SearchResult

from ..indexing import refresh_items

FACET_KINDS = {"stage": "stages", "stakeholder": "stakeholders", "solution": "solutions",
               "vertical": "verticals", "type": "content_types"}
FACET_NAMES = {"stage": "Stage", "stakeholder": "Stakeholder", "solution": "Solution",
               "vertical": "Vertical", "type": "Type"}
MAX_QUERY = 256


@dataclass(frozen=True)
class Found:
    card: ItemCard
    highlight: str
    score: float
    missing: tuple[str, ...] = ()  # the words or phrases typed that the item lacks


@dataclass(frozen=True)
class FacetValue:
    slug: str
    name: str
    count: int
    selected: bool


@dataclass(frozen=True)
class SearchPage:
    text: str
    filters: dict[str, tuple[str, ...]]
    page: int
    per_page: int
    total: int
    found: list[Found]
    facets: dict[str, list[FacetValue]]
    raw_facets: dict[str, dict[str, int]]
    suggestion: str | None
    match: str = "all"  # "all" | "some" | "corrected": see INTERFACES section 6
    all_words: int = 0  # how many of the results have every word
    as_typed: bool = False  # asked not to be corrected

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def filtered(self) -> bool:
        return any(self.filters.values())


def _recheck(session: Session, user: User, slugs: list[str]) -> dict[str, ItemCard]:
    """The cards of the hits the database says ``user`` may read, by slug. The hits' ids
    are looked up by slug first: asked both at once, SQLite answers through the status
    index and reads every published item (about 100 ms at 100,000 items) instead of the
    page's rows."""
    if not slugs:
        return {}
    ids = list(session.scalars(select(ContentItem.id).where(ContentItem.slug.in_(slugs))))
    if not ids:
        return {}
    buyer = not visibility.may(user, "see_internal_signals")  # no freshness marks for them
    cards = catalog.readable_cards(session, user, ids, date.today(), buyer=buyer)
    return {found.slug: found for found in cards.values()}


def _checked_search(session: Session, backend, user: User, query: SearchQuery,
                    as_typed: bool) -> tuple[SearchResult, str, dict[str, ItemCard]]:
    """The answer (see `_answer`), every hit re-checked against the database. A hit the
    database drops means the index is behind for that item: it is refreshed and the search
    asked again, so that totals and facets count only what the person may see. When the
    index is too busy to refresh, the dropped hits are taken out of the counts instead."""
    viewer = visibility.viewer_for(user, session)
    result, match = _answer(backend, query, viewer, as_typed)
    cards = _recheck(session, user, [hit.slug for hit in result.hits])
    dropped = [hit.slug for hit in result.hits if hit.slug not in cards]
    if dropped and refresh_items(current_app._get_current_object(), dropped, retries=0):
        result, match = _answer(backend, query, viewer, as_typed)
        cards = _recheck(session, user, [hit.slug for hit in result.hits])
        dropped = [hit.slug for hit in result.hits if hit.slug not in cards]
    if dropped:
        result = _uncounted(session, result, dropped)
    return result, match, cards


def _uncounted(session: Session, result: SearchResult, dropped: list[str]) -> SearchResult:
    """``result`` without the dropped hits in its total and facet counts (counted by the
    tags the database holds for them: the index's copy is the one not to be trusted)."""
    facets = {facet: dict(counts) for facet, counts in result.facets.items()}
    stmt = (select(ContentItem).where(ContentItem.slug.in_(dropped))
            .options(selectinload(ContentItem.stages), selectinload(ContentItem.stakeholders),
                     selectinload(ContentItem.solutions), selectinload(ContentItem.verticals),
                     selectinload(ContentItem.type)))
    for item in session.scalars(stmt):
        tags = {"stage": item.stages, "stakeholder": item.stakeholders,
                "solution": item.solutions, "vertical": item.verticals, "type": [item.type]}
        for facet, chosen in tags.items():
            counts = facets.setdefault(facet, {})
            for tag in chosen:
                if counts.get(tag.slug, 0) > 1:
                    counts[tag.slug] -= 1
                else:
                    counts.pop(tag.slug, None)
    all_words = sum(1 for hit in result.hits if hit.slug in dropped and not hit.missing)
    return replace(result, total=max(result.total - len(dropped), 0),
                   all_words=max(result.all_words - all_words, 0),
                   hits=[hit for hit in result.hits if hit.slug not in dropped], facets=facets)


def search(session: Session, backend, user: User, text: str, filters: dict[str, tuple[str, ...]],
           page: int = 1, per_page: int = 20, *, log: bool = True,
           as_typed: bool = False) -> SearchPage:
    """One page of results; unless ``as_typed``, those of the spelling correction when
    what was typed finds no item with every word and the correction does."""
    text = (text or "")[:MAX_QUERY]
    filters = {f: tuple(filters.get(f, ())) for f in FACETS if filters.get(f)}
    query = SearchQuery(text=text, filters=filters, page=page, per_page=per_page,
                        synonyms=synonym_table(session))
    result, match, cards = _checked_search(session, backend, user, query, as_typed)
    found = [Found(cards[hit.slug], hit.highlight, hit.score, hit.missing)
             for hit in result.hits if hit.slug in cards]
    if log and text.strip() and page == 1:
        # items with only some of the words are what the rep did not find: marketing's cue
        log_search(session, text, result.all_words, user.role)
    return SearchPage(text=text, filters=filters, page=page, per_page=per_page,
                      total=result.total, found=found, facets=_named_facets(session, result, filters),
                      raw_facets=result.facets, suggestion=result.suggestion, match=match,
                      all_words=result.all_words, as_typed=as_typed)


def _answer(backend, query: SearchQuery, viewer, as_typed: bool) -> tuple[SearchResult, str]:
    """The backend's answer and how it relates to the words typed. A web search engine
    shows the corrected results at once rather than an empty page with a link: so do we,
    when no item has every word typed and the correction finds some."""
    result: SearchResult = backend.search(query, viewer)
    if as_typed or not result.suggestion or result.all_words:
        return result, result.match
    corrected: SearchResult = backend.search(replace(query, text=result.suggestion), viewer)
    if not corrected.total:
        return result, result.match
    return replace(corrected, suggestion=result.suggestion), "corrected"


def _named_facets(session: Session, result: SearchResult,
                  filters: dict[str, tuple[str, ...]]) -> dict[str, list[FacetValue]]:
    choices = catalog.taxonomy_choices(session)
    named: dict[str, list[FacetValue]] = {}
    for facet in FACETS:
        counts = result.facets.get(facet, {})
        selected = set(filters.get(facet, ()))
        values = [FacetValue(tag.slug, tag.name, counts.get(tag.slug, 0), tag.slug in selected)
                  for tag in choices[FACET_KINDS[facet]]
                  if counts.get(tag.slug) or tag.slug in selected]
        named[facet] = values
    return named


def library_matches(session: Session, backend, text: str) -> tuple[str, ...]:
    """Slugs of items of every status whose full text matches ``text``, best first: for
    the managers' library only (it applies no visibility)."""
    text = (text or "").strip()[:MAX_QUERY]
    if not text:
        return ()
    return tuple(backend.find_any_status(text, synonym_table(session)))


@dataclass(frozen=True)
class Suggestion:
    text: str
    slug: str | None  # set for an item's title: picking it opens the item


def suggestions(session: Session, backend, user: User, prefix: str, limit: int = 8) -> list[Suggestion]:
    """Completions of what the user is typing; a title the database says they may read
    (the index may lag a change by a moment) carries its item's slug."""
    prefix = (prefix or "").strip()[:64]
    if len(prefix) < 2:
        return []
    texts = backend.suggest(prefix, visibility.viewer_for(user, session), limit)
    slugs: dict[str, list[str]] = {}
    if texts:
        rows = session.execute(select(ContentItem.title, ContentItem.slug).where(
            ContentItem.title.in_(texts), visibility.published_filter(user)))
        for title, slug in rows:
            slugs.setdefault(title, []).append(slug)
    # two items with one title: the search for it shows both
    return [Suggestion(text, found[0] if len(found := slugs.get(text, [])) == 1 else None)
            for text in texts]
