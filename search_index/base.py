"""The search interface every backend implements, and its plain result types.

The portal talks to search only through :class:`SearchBackend`. A backend
applies visibility *inside* the engine (only published items; a viewer who does
not ``sees_internal`` sees only external ones), so totals, facet counts,
highlights, suggestions and "did you mean" never count or mention an item the
viewer may not see. The portal still re-checks every hit against the database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from content_library.records import SearchableItem, Viewer

#: The facets a search can be filtered and counted by, in display order.
FACETS: tuple[str, ...] = ("stage", "stakeholder", "solution", "vertical", "type")

#: Caps on what a caller may ask for; the service layer validates first, these
#: are the backend's own backstop.
MAX_PER_PAGE = 100
MAX_PAGE = 10_000
MAX_FILTER_VALUES = 50
MAX_SYNONYM_GROUPS = 1000
MAX_GROUP_SIZE = 16
MAX_ANY_STATUS = 500  # matches the managers' library takes from one full-text search

#: Groups of words or phrases that mean the same ("roi", "return on investment").
SynonymTable = tuple[tuple[str, ...], ...]


def normalise_synonyms(table) -> SynonymTable:
    """Groups of at least two non-empty strings, as plain tuples, capped."""
    groups = []
    for group in tuple(table or ())[:MAX_SYNONYM_GROUPS]:
        if isinstance(group, str):
            continue
        members = tuple(m for m in tuple(group)[:MAX_GROUP_SIZE] if isinstance(m, str) and m)
        if len(members) > 1:
            groups.append(members)
    return tuple(groups)


class IndexBusy(Exception):
    """The index's writer lock could not be taken in time.

    The caller leaves its changes pending and applies them later.
    """


@dataclass(frozen=True)
class SearchQuery:
    """What the user asked for.

    ``filters`` maps a facet name (one of :data:`FACETS`) to the selected tag
    slugs: OR within one facet, AND across facets. Unknown facet names are
    ignored. ``synonyms`` are the managers' groups of interchangeable words
    and phrases: a typed word or phrase found in a group matches any member.
    """

    text: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    page: int = 1
    per_page: int = 20
    synonyms: SynonymTable = ()

    def clamped(self) -> SearchQuery:
        """The same query with page, per_page and filters brought into range."""
        page = min(max(int(self.page), 1), MAX_PAGE)
        per_page = min(max(int(self.per_page), 1), MAX_PER_PAGE)
        filters: dict[str, tuple[str, ...]] = {}
        for facet in FACETS:
            values = self.filters.get(facet) or ()
            if isinstance(values, str):
                values = (values,)
            chosen = tuple(dict.fromkeys(v for v in values if isinstance(v, str) and v))
            if chosen:
                filters[facet] = chosen[:MAX_FILTER_VALUES]
        return SearchQuery(
            text=self.text or "",
            filters=filters,
            page=page,
            per_page=per_page,
            synonyms=normalise_synonyms(self.synonyms),
        )


@dataclass(frozen=True)
class Hit:
    """One result: the item's slug, its score and an HTML highlight.

    ``highlight`` contains no markup but ``<mark>``/``</mark>``; everything
    else is escaped. It is built from the item's title or summary only.
    ``missing`` names the words or phrases, as typed, that the item lacks:
    empty unless it is one of the items matching only some of them.
    """

    slug: str
    score: float
    highlight: str
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchResult:
    """One page of results, the facet counts and a "did you mean" suggestion.

    ``total`` counts every matching item the viewer may see. ``facets`` maps
    each facet to ``{tag slug: count}``; the counts of a facet ignore that
    facet's own selection (so a rep can widen a choice) but honour every
    other facet's selection. ``suggestion`` is a corrected query text that
    has results, or ``None``.

    ``match`` is ``"all"`` when every result has every word or phrase typed,
    or ``"some"`` when no more than a page did and the items having only some of
    them follow, most words first (see :func:`some_words_follow`); ``total``
    and ``facets`` then count both kinds. ``all_words`` counts the results
    having every word.
    """

    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    suggestion: str | None = None
    match: str = "all"
    all_words: int = 0


def some_words_follow(units: int, all_words: int, per_page: int) -> bool:
    """Whether items matching only some of the words follow those matching all of
    them, as a web search engine does: when more than one word or phrase was typed
    (stop words aside) and no more than a page of items has them all (INTERFACES
    section 6), so the page after a full page of such items goes on with the rest."""
    return units > 1 and all_words <= per_page


def missing_words(labels: Iterable[tuple[str, ...]], found: Iterable[bool]) -> tuple[str, ...]:
    """The words or phrases, as typed, of each unit a result lacks."""
    return tuple(label for unit, has in zip(labels, found, strict=True) if not has for label in unit)


class SearchBackend(ABC):
    """A search engine behind the portal.

    Implementations must be safe to use from several threads of one process,
    and from several processes sharing one index (one writer at a time).
    """

    @abstractmethod
    def update(self, read: Callable[[], tuple[Iterable[SearchableItem], Iterable[str]]]) -> None:
        """Take the writer lock, then call ``read()`` for the items to add or replace and
        the slugs to remove, and apply both in one writer transaction.

        Reading the database only once the lock is held is what keeps concurrent writers
        in order: whoever writes later also read later, so an older state never
        overwrites a newer one. Raises :class:`IndexBusy` when the lock is not free in time.
        """

    def index_items(self, items: Iterable[SearchableItem]) -> None:
        """Add or replace the given items (by slug), in one writer transaction."""
        items = list(items)
        if items:
            self.update(lambda: (items, ()))

    def remove_items(self, slugs: Iterable[str]) -> None:
        """Remove the items with these slugs; unknown slugs are ignored."""
        slugs = [slug for slug in slugs if slug]
        if slugs:
            self.update(lambda: ((), slugs))

    @abstractmethod
    def hide(self, items: Iterable[SearchableItem], gone: Iterable[str],
             connection=None) -> Callable[[], None]:
        """Write ``items`` and remove ``gone`` at once, for a database change about to
        commit that shows them to fewer people, and keep the writer lock until the
        returned ``release()`` is called (after that commit ends), so that no writer puts
        back the state the change replaces.

        ``connection`` is the DB-API connection of the committing transaction: a backend
        whose tables live in that database writes through it, so the change to the index
        commits or rolls back with the change itself. Raises :class:`IndexBusy` when the
        lock is not free in time.
        """

    @abstractmethod
    def search(self, query: SearchQuery, viewer: Viewer) -> SearchResult:
        """Answer one page of ``query`` with only what ``viewer`` may see."""

    @abstractmethod
    def suggest(self, prefix: str, viewer: Viewer, limit: int = 8) -> list[str]:
        """Completions for ``prefix``: titles and frequent words, visible ones only."""

    @abstractmethod
    def find_any_status(
        self, text: str, synonyms: SynonymTable = (), limit: int = MAX_ANY_STATUS
    ) -> list[str]:
        """Slugs of items of *every* status and audience whose text holds every word of
        ``text`` (stemmed, synonyms widened), best first: the managers' library, whose
        callers may see everything. Never for a reader's surface: it applies no
        visibility."""

    @abstractmethod
    def rebuild(self, items: Iterable[SearchableItem]) -> int:
        """Build a whole new index from ``items`` and swap it in; return the count."""

    @abstractmethod
    def fingerprints(self) -> dict[str, str]:
        """Map each indexed slug to the fingerprint stored with it."""

    @abstractmethod
    def clear(self) -> None:
        """Empty the index."""

    def needs_rebuild(self) -> bool:
        """True when the index is missing or was made by another schema version.

        Backends that cannot tell answer False.
        """
        return False


def merge_suggestions(words: list[str], titles: list[str], limit: int) -> list[str]:
    """Completed words first (up to half the list, more when titles are few), then titles,
    without case-insensitive repeats: what every backend's suggest() answers. A completion
    that is a title gives way to the title, which the portal can open."""
    quota = max(limit // 2, limit - len(titles))
    result: list[str] = []
    seen: set[str] = {title.casefold() for title in titles}
    words = [word for word in words if word.casefold() not in seen]
    seen = set()
    for suggestion in words[:quota] + titles:
        key = suggestion.casefold()
        if key not in seen:
            seen.add(key)
            result.append(suggestion)
    return result[:limit]
