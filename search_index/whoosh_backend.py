"""The embedded search backend, on Whoosh.

How a search runs (see :mod:`search_index.whoosh_snapshot` for the caches):

1. The typed text becomes plain terms and phrases, widened by the synonym
   table, as a plan: units that must all match, each with alternatives
   (:mod:`search_index.query_text`).
2. The matching documents are found as a doc set -- AND over units of the OR
   over alternatives of each term's cached postings in any text field (or,
   for a phrase, the documents where each of its words is followed by the
   next in one field) -- and intersected with what the viewer's class may
   see. Browsing (no terms) starts from the visible set.
3. Totals and facet counts are intersections of doc sets: a facet's counts
   honour every selection but its own.
4. The allowed documents are scored a term at a time from the cached
   postings and the best page kept (:mod:`search_index.whoosh_scoring` has the
   formula); browsing orders by last update instead.
5. When no more than a page has every unit, the documents having only some follow
   (the OR of the units' doc sets less the AND), ranked by how many units each
   has, then by score; they count in the total and the facets.
6. When fewer than :data:`FEW_RESULTS` items have every unit, each unknown word
   is corrected against the words of documents the viewer may see, and the
   correction is offered only if it finds more (see :meth:`_did_you_mean`).

A viewer allowed only some items (a champion: ``Viewer.allowed_slugs``) is a
:class:`~search_index.whoosh_snapshot.Only` group: the same steps over those
items only (ranking statistics included). Their corrections and completed words
come from the titles and summaries of those items only
(:meth:`~search_index.whoosh_snapshot.Snapshot.buyer_words`): the words fields
hold every part of an item's argument, the rep-only ones too, and a champion
must not read those words.

Whoosh's ``filtered_count``, ``groupedby``, query parser, top-N collector,
spelling corrector and highlighter formatters are deliberately not used: each
either leaks hidden documents or is too slow.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from functools import reduce
from itertools import islice
from operator import and_, or_
from pathlib import Path

from whoosh.index import EmptyIndexError

from content_library.records import SearchableItem, Viewer

from . import docsets
from .base import (
    FACETS,
    MAX_ANY_STATUS,
    Hit,
    IndexBusy,
    SearchBackend,
    SearchQuery,
    SearchResult,
    SynonymTable,
    merge_suggestions,
    missing_words,
    normalise_synonyms,
    some_words_follow,
)
from .completion import MAX_CANDIDATES, Typed, best_completions, one_spelling_per_term, typed
from .highlight import highlight
from .query_text import (
    FIELD_BOOSTS,
    Alternative,
    ParsedText,
    Plan,
    analyse_word,
    clean,
    labelled_plan,
    pairs_of,
    parse,
    plan,
    plan_terms,
)
from .spelling import CorrectionBudget, completions_from, correct_from, correctable
from .whoosh_schema import to_document
from .whoosh_scoring import rank
from .whoosh_snapshot import CHAMPION, STAFF, WORD_FIELDS, FactsCache, Group, Only, Snapshot
from .whoosh_store import RETIRE_AFTER, IndexStore, ReaderPool, merge_similar

__all__ = ["IndexBusy", "WhooshBackend"]

FEW_RESULTS = 3
_MAX_SCANNED_WORDS = 20_000  # lexicon words one correction may compare
MAX_SUGGESTIONS = 20
_RETRIES = 3
#: A rebuild writes a segment per this many items, each sorted in memory: one
#: writer for everything spilled its postings to disk and merged them back,
#: pickling each one twice (a third of the time at 10,000 items). Whoosh's
#: estimate of the memory this needs is about right (~200 bytes a posting). Schema 3
#: writes about 560 postings for an item of 250 words (its followers field adds one a
#: term): 3,000 such items fit the limit, where 5,000 spilled (a rebuild 1.7x slower).
REBUILD_SEGMENT = 3_000
REBUILD_LIMIT_MB = 384


def viewer_class(viewer: Viewer) -> Group:
    """Staff see every published item; anyone else only published external ones; a
    viewer with ``allowed_slugs`` only those of them. Only a plain True opens internal
    items: anything else fails closed."""
    within = STAFF if viewer.sees_internal is True else CHAMPION
    if viewer.allowed_slugs is None:
        return within
    return Only(within, frozenset(slug for slug in viewer.allowed_slugs if isinstance(slug, str)))


def _word_fields(group: Group) -> tuple[str, ...]:
    """The lexicons a class may draw words from; none for an :class:`Only` viewer."""
    return WORD_FIELDS.get(group, ()) if isinstance(group, str) else ()


@contextmanager
def _committing(writer, **options) -> Iterator[None]:
    """Commit what the block wrote; if it (or the commit) fails, cancel instead,
    which releases Whoosh's lock. A cancelled writer is never committed."""
    try:
        yield
        writer.commit(**options)
    except BaseException:
        if not writer.is_closed:
            with suppress(Exception):
                writer.cancel()
        raise


def _empty_result() -> SearchResult:
    return SearchResult(total=0, hits=[], facets={facet: {} for facet in FACETS}, suggestion=None)


class WhooshBackend(SearchBackend):
    """Search over a Whoosh index in ``index_dir`` (created when missing).

    One instance per process; safe to share between threads. Writers in any
    process wait at most ``writer_timeout`` seconds for the lock, then raise
    :class:`IndexBusy`. Files a reader might still need are deleted only after
    ``retire_after`` seconds (see :mod:`search_index.whoosh_store`).
    """

    def __init__(
        self,
        index_dir: Path | str,
        writer_timeout: float = 5.0,
        retire_after: float = RETIRE_AFTER,
    ):
        self._store = IndexStore(Path(index_dir), writer_timeout, retire_after)
        self._facts = FactsCache()
        self._snapshots: dict[tuple, Snapshot] = {}
        self._snapshot_lock = threading.Lock()
        self._readers = ReaderPool()
        # the pooled readers hold files open: close them with the backend
        weakref.finalize(self, self._readers.clear)
        if self._store.current_name() is None:
            try:
                with self._store.locked(timeout=0):
                    self._store.ensure_current()
            except IndexBusy:
                pass  # someone else is writing (and will create it)

    # Writing --------------------------------------------------------------

    def update(self, read: Callable[[], tuple[Iterable[SearchableItem], Iterable[str]]]) -> None:
        with self._store.locked() as deadline:
            self._write(deadline, *read())

    def hide(self, items: Iterable[SearchableItem], gone: Iterable[str],
             connection=None) -> Callable[[], None]:
        lock = ExitStack()
        try:
            self._write(lock.enter_context(self._store.locked()), items, gone)
        except BaseException:
            lock.close()
            raise
        return lock.close

    def _write(self, deadline: float, items: Iterable[SearchableItem], gone: Iterable[str]) -> None:
        """Replace ``items`` and remove ``gone`` in one commit; call with the lock held."""
        documents: dict[str, dict] = {}
        for item in items:
            if not item.slug:
                raise ValueError("an item without a slug cannot be indexed")
            documents[item.slug] = to_document(item)
        removed = [slug for slug in dict.fromkeys(gone) if slug and slug not in documents]
        if not documents and not removed:
            return
        _, ix = self._store.ensure_current()
        writer = self._store.writer(ix, deadline)
        with _committing(writer, mergetype=merge_similar):
            for slug in removed:
                writer.delete_by_term("slug", slug)
            for document in documents.values():
                writer.update_document(**document)

    def rebuild(self, items: Iterable[SearchableItem]) -> int:
        """Index ``items`` into a new folder, then make it the live index.

        The write lock is held throughout, so incremental writers raise
        IndexBusy (their changes stay pending and are applied to the new
        index afterwards). A slug seen twice keeps its first item.
        """
        with self._store.locked() as deadline:
            name, ix = self._store.create_generation()
            count = 0
            try:
                seen: set[str] = set()
                chunk: list[dict] = []
                for item in items:
                    if not item.slug or item.slug in seen:
                        continue
                    seen.add(item.slug)
                    chunk.append(to_document(item))
                    count += 1
                    if len(chunk) >= REBUILD_SEGMENT:
                        self._write_segment(ix, deadline, chunk)
                        chunk = []
                if chunk:
                    self._write_segment(ix, deadline, chunk)
            except BaseException:
                self._store.discard(name)
                raise
            self._store.swap_to(name)
        return count

    def _write_segment(self, ix, deadline: float, documents: list[dict]) -> None:
        """One segment of a rebuild, committed without merging."""
        writer = self._store.writer(ix, deadline, limitmb=REBUILD_LIMIT_MB)
        with _committing(writer, merge=False):
            for document in documents:
                writer.add_document(**document)

    def clear(self) -> None:
        self.rebuild(())

    def needs_rebuild(self) -> bool:
        return self._store.needs_rebuild()

    # Reading --------------------------------------------------------------

    def fingerprints(self) -> dict[str, str]:
        def read(snapshot: Snapshot, reader) -> dict[str, str]:
            return {fields["slug"]: fields.get("fingerprint", "") or "" for _, fields in reader.iter_docs()}

        return self._with_reader(read, {})

    def search(self, query: SearchQuery, viewer: Viewer) -> SearchResult:
        wanted = query.clamped()
        parsed = parse(wanted.text)
        group = viewer_class(viewer)
        return self._with_reader(
            lambda snapshot, reader: self._search(snapshot, reader, wanted, parsed, group),
            _empty_result(),
        )

    def suggest(self, prefix: str, viewer: Viewer, limit: int = 8) -> list[str]:
        limit = min(max(int(limit), 1), MAX_SUGGESTIONS)
        text = " ".join(clean(prefix)[:100].split())
        if not text:
            return []
        group = viewer_class(viewer)
        return self._with_reader(
            lambda snapshot, reader: self._suggest(snapshot, reader, text, group, limit), []
        )

    def find_any_status(
        self, text: str, synonyms: SynonymTable = (), limit: int = MAX_ANY_STATUS
    ) -> list[str]:
        units = plan(parse(text), normalise_synonyms(synonyms))
        if not units:
            return []
        limit = min(max(int(limit), 1), MAX_ANY_STATUS)

        def find(snapshot: Snapshot, reader) -> list[str]:
            matched = self._matched(snapshot, reader, units)
            # ranked with the published documents' statistics, as staff searches are
            ranked = rank(snapshot, reader, units, STAFF, matched, limit)
            return [snapshot.slug(docnum) for docnum, _ in ranked]

        return self._with_reader(find, [])

    # Readers and snapshots ------------------------------------------------

    def _with_reader(self, work, default):
        """Run ``work(snapshot, reader)`` with a reader of the live generation
        (from the pool: never used by two threads at once), retrying with a
        fresh one when a concurrent rebuild or merge removed files from under
        it."""
        for attempt in range(_RETRIES):
            found = self._store.current()
            if found is None:
                return default
            _, ix = found
            try:
                with self._readers.lend(found[0], ix) as reader:
                    generation = reader.generation()
                    key = (found[0], -1 if generation is None else generation)
                    snapshot = self._snapshot(key, reader)
                    return work(snapshot, reader)
            except (OSError, EmptyIndexError):
                if attempt == _RETRIES - 1:
                    raise
        return default

    def _snapshot(self, key: tuple, reader) -> Snapshot:
        snapshot = self._snapshots.get(key)
        if snapshot is not None:
            return snapshot
        with self._snapshot_lock:
            snapshot = self._snapshots.get(key)
            if snapshot is None:
                snapshot = Snapshot(key, reader, self._facts)
                # keep this one and the previous generation of the same folder,
                # which threads with an older reader may still be using
                kept = sorted(k for k in self._snapshots if k[0] == key[0] and k[1] < key[1])
                self._snapshots = {k: self._snapshots[k] for k in kept[-1:]}
                self._snapshots[key] = snapshot
            return snapshot

    # Search ---------------------------------------------------------------

    def _search(
        self,
        snapshot: Snapshot,
        reader,
        query: SearchQuery,
        parsed: ParsedText,
        group: Group,
    ) -> SearchResult:
        visible = snapshot.visible_to(group)
        selections = self._selections(snapshot, query)
        start = (query.page - 1) * query.per_page
        stop = start + query.per_page
        labelled = labelled_plan(parsed, query.synonyms)
        units = tuple(labelled)
        if not units:
            allowed = reduce(and_, selections.values(), visible)
            total = docsets.count(allowed)
            newest = snapshot.newest(allowed, start, stop) if start < total else []
            hits = self._hits(reader, [(d, 0.0) for d in newest], ())
            facets = self._facet_counts(snapshot, visible, selections)
            return SearchResult(total=total, hits=hits, facets=facets, all_words=total)

        each = [docs & visible for docs in self._each_unit(snapshot, reader, units)]
        matched = reduce(and_, each)
        complete = reduce(and_, selections.values(), matched)
        all_words = docsets.count(complete)
        partial = docsets.EMPTY
        if some_words_follow(len(units), all_words, query.per_page):
            # the items with only some of the words count, and are counted, too
            matched = reduce(or_, each)
            partial = reduce(and_, selections.values(), matched) & ~complete
        total = all_words + docsets.count(partial)
        facets = self._facet_counts(snapshot, matched, selections)

        terms = plan_terms(units)
        hits: list[Hit] = []
        if start < all_words:
            ranked = rank(snapshot, reader, units, group, complete, stop)[start:stop]
            hits = self._hits(reader, ranked, terms)
        if partial and stop > all_words:

            def missing(docnum: int) -> tuple[str, ...]:
                found = ((docs >> (8 * docnum)) & 1 for docs in each)
                return missing_words(labelled.values(), found)

            levels = docsets.tally(each, snapshot.size)
            ranked = rank(snapshot, reader, units, group, partial, stop - all_words, levels)
            hits += self._hits(reader, ranked[max(start - all_words, 0) :], terms, missing)

        suggestion = None
        if all_words < FEW_RESULTS:
            suggestion = self._did_you_mean(snapshot, reader, parsed, query, group, selections, all_words)
        match = "some" if partial else "all"
        return SearchResult(
            total=total, hits=hits, facets=facets, suggestion=suggestion, match=match, all_words=all_words
        )

    @staticmethod
    def _selections(snapshot: Snapshot, query: SearchQuery) -> dict[str, int]:
        """Facet -> the documents carrying any of its selected values."""
        selections = {}
        for facet, values in query.filters.items():
            by_value = snapshot.facet_docs[facet]
            selections[facet] = reduce(or_, (by_value.get(v, 0) for v in values), 0)
        return selections

    @staticmethod
    def _matched(snapshot: Snapshot, reader, units: Plan) -> int:
        """Every live document matching every unit of the plan (any visibility)."""
        return reduce(and_, WhooshBackend._each_unit(snapshot, reader, units)) if units else docsets.EMPTY

    @staticmethod
    def _each_unit(snapshot: Snapshot, reader, units: Plan) -> list[int]:
        """The live documents matching each unit of the plan (any visibility)."""
        found = []
        for unit in units:
            docs = docsets.EMPTY
            for alternative in unit:
                docs |= WhooshBackend._alternative_docs(snapshot, reader, alternative)
            found.append(docs)
        return found

    @staticmethod
    def _alternative_docs(snapshot: Snapshot, reader, terms: Alternative) -> int:
        """A term in any text field, or a phrase (all of its adjacent pairs)."""
        docs = docsets.EMPTY
        if len(terms) == 1:
            for field in FIELD_BOOSTS:
                docs |= snapshot.term_docs(reader, field, terms[0])
            return docs
        for number, (first, second) in enumerate(pairs_of(terms)):
            found = snapshot.pair_docs(reader, first, second)
            docs = found if number == 0 else docs & found
            if not docs:
                break
        return docs

    @staticmethod
    def _facet_counts(
        snapshot: Snapshot, matched: int, selections: dict[str, int]
    ) -> dict[str, dict[str, int]]:
        facets: dict[str, dict[str, int]] = {}
        for facet in FACETS:
            base = reduce(and_, (d for f, d in selections.items() if f != facet), matched)
            counts = {}
            if base:
                for value, docs in snapshot.facet_docs[facet].items():
                    found = docsets.count(base & docs)
                    if found:
                        counts[value] = found
            facets[facet] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return facets

    @staticmethod
    def _hits(
        reader,
        ranked: list[tuple[int, float]],
        terms: frozenset[str],
        missing: Callable[[int], tuple[str, ...]] | None = None,
    ) -> list[Hit]:
        hits = []
        for docnum, score in ranked:
            fields = reader.stored_fields(docnum)
            text = highlight(fields.get("title", ""), fields.get("summary", ""), terms)
            lacks = missing(docnum) if missing else ()
            hits.append(Hit(slug=fields["slug"], score=float(score), highlight=text, missing=lacks))
        return hits

    # Did you mean -----------------------------------------------------------

    def _did_you_mean(
        self,
        snapshot: Snapshot,
        reader,
        parsed: ParsedText,
        query: SearchQuery,
        group: Group,
        selections: dict[str, int],
        all_words: int,
    ) -> str | None:
        """Each unknown word corrected from the words of documents this class may see;
        offered when the correction finds more items with every word, or, when no item
        has every word typed, corrects every unknown word and finds items with some."""
        units = plan(parsed, query.synonyms)
        widened = plan_terms(tuple(unit for unit in units if len(unit) > 1))
        corrections = {}
        budget = CorrectionBudget()
        unknown = 0
        for word in parsed.surface_words():
            if analyse_word(word) in widened or self._known(snapshot, reader, group, word):
                continue
            unknown += 1
            if not correctable(word):
                continue
            if not budget.take_word():
                break  # the words after it stay as typed, so not every word is known
            better = self._correct(snapshot, reader, group, word, budget)
            if better:
                corrections[word] = better
        if not corrections:
            return None
        fixed = parsed.replaced(corrections)
        fixed_units = plan(fixed, query.synonyms)
        if not fixed_units:
            return None
        allowed = reduce(and_, selections.values(), snapshot.visible_to(group))
        each = [docs & allowed for docs in self._each_unit(snapshot, reader, fixed_units)]
        if docsets.count(reduce(and_, each)) > all_words:
            return fixed.as_text()
        if all_words == 0 and len(corrections) == unknown and reduce(or_, each):
            return fixed.as_text()  # no item has all the words, though each is known
        return None

    @staticmethod
    def _known(snapshot: Snapshot, reader, group: Group, word: str) -> bool:
        """Whether a document this class may see has ``word``: among the
        lexicon's words, or (as an analysed term) in any text field -- the
        lexicon holds only the short fields' words, and a word spelt right in
        a body is not to be corrected."""
        if WhooshBackend._word_count(snapshot, reader, group, word):
            return True
        term = analyse_word(word)
        if term is None:
            return False
        docs = docsets.EMPTY
        for field in FIELD_BOOSTS:
            docs |= snapshot.term_docs(reader, field, term)
        return bool(docs & snapshot.visible_to(group))

    @staticmethod
    def _word_count(snapshot: Snapshot, reader, group: Group, word: str) -> int:
        """How many documents this viewer may see contain ``word`` (unstemmed); for an
        :class:`Only` viewer, in a title or summary."""
        if isinstance(group, Only):
            return snapshot.buyer_words(reader, group).get(word, 0)
        docs = 0
        for field in _word_fields(group):
            docs |= snapshot.term_docs(reader, field, word)
        return docsets.count(docs & snapshot.visible_to(group))

    def _correct(
        self, snapshot: Snapshot, reader, group: Group, word: str, budget: CorrectionBudget
    ) -> str | None:
        """The closest word (then the most frequent) in documents this class may see."""
        if isinstance(group, Only):
            return correct_from(word, snapshot.buyer_words(reader, group), budget)
        fields = _word_fields(group)
        lexicons = [snapshot.words(reader, field) for field in fields]
        candidates: dict[str, int] = {}
        for candidate in budget.candidates(word):
            if any(candidate in words for words in lexicons):
                candidates[candidate] = 1
        if not candidates:
            for field in fields:
                lexicon = islice(reader.expand_prefix(field, word[:1]), _MAX_SCANNED_WORDS)
                for candidate, found in budget.near(word, (btext.decode("utf-8") for btext in lexicon)):
                    candidates[candidate] = min(found, candidates.get(candidate, 3))
        best = None
        for candidate, edits in candidates.items():
            seen = self._word_count(snapshot, reader, group, candidate)
            if seen:
                rank = (edits, -seen, candidate)
                if best is None or rank < best:
                    best = rank
        return best[2] if best else None

    # Completion -------------------------------------------------------------

    def _suggest(self, snapshot: Snapshot, reader, text: str, group: Group, limit: int) -> list[str]:
        titles = snapshot.complete_title(reader, group, text, limit)
        words = self._complete_word(snapshot, reader, text, group, limit)
        return merge_suggestions(words, titles, limit)

    def _complete_word(self, snapshot: Snapshot, reader, text: str, group: Group, limit: int) -> list[str]:
        """The whole typed text with its last word completed (see
        :mod:`search_index.completion`)."""
        found = typed(text)
        if found is None:
            return []
        frequency: dict[str, int] = {}
        if isinstance(group, Only):
            frequency = completions_from(found.stub, snapshot.buyer_words(reader, group), 500)
        for field in _word_fields(group):
            for scanned, btext in enumerate(reader.expand_prefix(field, found.stub)):
                if scanned >= 500:
                    break
                word = btext.decode("utf-8")
                if word != found.stub:
                    frequency[word] = frequency.get(word, 0) + reader.doc_frequency(field, btext)
        likely = sorted(frequency, key=lambda w: (-frequency[w], w))[:MAX_CANDIDATES]
        if found.previous is None:
            counted = [(self._word_count(snapshot, reader, group, w), frequency[w], w) for w in likely]
        else:
            counted = self._phrase_counts(snapshot, reader, group, found, likely, frequency)
        return [found.head + word for word in best_completions(counted, limit)]

    def _phrase_counts(
        self, snapshot: Snapshot, reader, group: Group, found: Typed, likely: list[str], frequency: dict
    ) -> list[tuple[int, int, str]]:
        """For each candidate (one per term), the visible documents holding every typed
        word where the candidate directly follows the last of them."""
        within = snapshot.visible_to(group)
        units = plan(found.context)
        if units:
            within &= self._matched(snapshot, reader, units)
        counted = []
        for term, word in one_spelling_per_term(likely).items():
            docs = snapshot.pair_docs(reader, found.previous, term) & within if within else 0
            counted.append((docsets.count(docs), frequency[word], word))
        return counted
