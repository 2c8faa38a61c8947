"""What the backend knows about one generation of the index, cached.

Whoosh answers "which documents contain this term" quickly but counts facets
slowly (``groupedby`` reads a value per matching document). So for each index
generation we keep, as doc sets (see :mod:`search_index.docsets`):

- the documents each viewer class may see (published; published and external), and
  those of a viewer allowed only some items (:class:`Only`), a few hundred kept,
- the documents carrying each facet value,
- recently used term postings: of a text field, the documents and the term's
  weight in each, which is all ranking needs (see
  :mod:`search_index.whoosh_scoring`); of other fields, the documents only,

and, lazily, what ranking, browsing and completion need: per-document freshness
and usage factors, the newest-first order, field lengths and title words.

Facts about one *segment* never change (Whoosh segments are immutable apart
from deletions, which only ever grow), so they are cached per segment id and
reused by later generations: after a small incremental write only the new
segment is read. A text term's postings and a phrase's documents are kept per
segment too, deleted documents included (each generation ANDs its live
documents), in LRUs bounded in bytes: an edit, which writes one small segment,
leaves every other segment's postings in memory, where a cache per generation
would read them all again on the first search after each write.

A :class:`Snapshot` is shared by the threads of a process; each call brings its
own reader of the same generation for anything that touches index files.
"""

from __future__ import annotations

import re
import sys
import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict
from datetime import UTC, date, datetime
from itertools import compress
from math import log
from typing import NamedTuple

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.columns import NumericColumn
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import IndexReader
from whoosh.util.numeric import byte_to_length

from . import docsets
from .base import FACETS
from .spelling import buyer_lexicon
from .whoosh_schema import (
    EXTERNAL,
    FACET_FIELDS,
    FOLLOWERS,
    PUBLISHED,
    TEXT_FIELDS,
    WORDS_EXTERNAL,
    WORDS_INTERNAL,
    follower_needle,
)

STAFF = "staff"
CHAMPION = "external"

#: Words fields whose lexicon a viewer class may draw corrections and
#: completions from.
WORD_FIELDS = {CHAMPION: (WORDS_EXTERNAL,), STAFF: (WORDS_EXTERNAL, WORDS_INTERNAL)}


class Only(NamedTuple):
    """A viewer who may see only the items with these slugs, of those their class
    (``within``) may see: a champion, who reads what was shared with them."""

    within: str
    slugs: frozenset[str]


#: Who is searching, as the snapshot's doc sets know them: a class, or some of its items.
Group = str | Only

_KEPT_RESTRICTED = 256  # doc sets and averages of Only viewers kept per snapshot

FRESHNESS_WEIGHT = 0.15
USAGE_WEIGHT = 0.15
FRESHNESS_DAYS = 365
MAX_FACTOR = 1.0 + FRESHNESS_WEIGHT + USAGE_WEIGHT

_TERM_CACHE_BYTES = 32 * 1024 * 1024
#: Decoded postings kept per process: at 100,000 items, the searches of bench/end_to_end.py
#: (two of the 400 most frequent words) keep about 85 MB; with 64 MB they were read again.
_POSTINGS_CACHE_BYTES = 128 * 1024 * 1024
_DENSE = 16  # a term's doc set is kept when it is in at least one document in this many
_PAIRS_CACHE_BYTES = 16 * 1024 * 1024
_SKIP_RATIO = 4  # a phrase's rarer second word leads when this much rarer
_TITLE_WORD = re.compile(r"\w", re.UNICODE)
_EPOCH = datetime(1970, 1, 1)


def boost_factor(updated: datetime, usage: float, today: date) -> float:
    """``1 + 0.15 * freshness + 0.15 * usage``, freshness falling linearly from
    1 (updated today) to 0 at 365 days, usage clamped to 0..1."""
    age = (today - updated.date()).days
    freshness = min(max(1.0 - age / FRESHNESS_DAYS, 0.0), 1.0)
    usage = min(max(usage, 0.0), 1.0)
    return 1.0 + FRESHNESS_WEIGHT * freshness + USAGE_WEIGHT * usage


class SegmentPostings(NamedTuple):
    """One term of a text field in one segment, in local document numbers,
    deleted documents included: true for every generation holding the segment."""

    docs: int | None  # the doc set, kept for a term in many documents only (see read_postings)
    ids: array  # the same document numbers, ascending
    weights: array  # the term's weight (its frequency) in each

    def doc_set(self, size: int) -> int:
        return self.docs if self.docs is not None else docsets.from_docnums(self.ids, size)


class Postings(NamedTuple):
    """One term of a text field across a generation: its live documents, and
    each segment's postings as ``(offset, segment size, postings)``."""

    docs: int
    parts: tuple[tuple[int, int, SegmentPostings], ...]


def _raw_matcher(leaf: IndexReader, field: str, term: bytes):
    """A term's matcher over the segment's every document: Whoosh hides deleted
    ones behind a filter, which would make a cached list true for one generation."""
    matcher = leaf.postings(field, term)
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
        matcher.reset()  # the filter has already stepped over leading deleted ones
    return matcher


def _blocks(matcher, values: bool = False):
    """A matcher's postings a block at a time, as (ids, weights, values or
    None). Whoosh decodes a whole block at once anyway; asking it a posting at a
    time is three Python calls a posting, most of the cost of reading a long list."""
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            if values:
                matcher._read_values()
            yield matcher._ids, matcher._weights, matcher._values if values else None
            matcher._next_block()
        return
    # postings inlined in the term index (a rare term), or another codec
    ids, weights, found = [], [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        if values:
            found.append(matcher.value())
        matcher.next()
    yield ids, weights, found if values else None


def read_postings(leaf: IndexReader, field: str, term: bytes) -> SegmentPostings:
    """A text term's postings in one segment (see :class:`SegmentPostings`). A doc
    set takes a byte a document of the segment whatever the term, so it is kept only
    for a term in at least one document in :data:`_DENSE` (at 100,000 items, most
    kept terms are rarer, and their doc sets were two thirds of the cache): a rarer
    term's is made again from its few ids when a generation needs it."""
    ids, weights = array("I"), array("f")
    if (field, term) in leaf:
        for block_ids, block_weights, _ in _blocks(_raw_matcher(leaf, field, term)):
            ids.extend(block_ids)
            weights.extend(block_weights)
    size = leaf.doc_count_all()
    docs = docsets.from_docnums(ids, size) if len(ids) * _DENSE >= size else None
    return SegmentPostings(docs, ids, weights)


def read_pairs(leaf: IndexReader, term: bytes, follower: bytes) -> int:
    """The segment's documents (deleted ones included) where ``follower``
    directly follows ``term`` in one of the texts, from ``term``'s followers."""
    firsts = leaf.doc_frequency(FOLLOWERS, term)
    holding = [field for field in TEXT_FIELDS if (field, follower) in leaf] if firsts else []
    if not holding:
        return docsets.EMPTY
    needle = follower_needle(follower)
    marks = bytearray(leaf.doc_count_all())
    postings = _raw_matcher(leaf, FOLLOWERS, term)
    if sum(leaf.doc_frequency(field, follower) for field in holding) * _SKIP_RATIO < firsts:
        # few documents have the second word: visit only those
        candidates: set[int] = set()
        for field in holding:
            for ids, _, _ in _blocks(_raw_matcher(leaf, field, follower)):
                candidates.update(ids)
        for docnum in sorted(candidates):
            postings.skip_to(docnum)
            if not postings.is_active():
                break
            if postings.id() == docnum and needle in postings.value():
                marks[docnum] = 1
    else:
        for ids, _, values in _blocks(postings, values=True):
            for docnum, value in zip(ids, values, strict=True):
                if needle in value:
                    marks[docnum] = 1
    return int.from_bytes(marks, "little")


def _one(_value) -> int:
    return 1


class _Kept:
    """A least-recently-used map bounded by the summed cost of its values (their bytes,
    or one each). Values are never None. ``keep_only`` is for maps keyed by segment id
    first."""

    def __init__(self, budget: int, cost=_one):
        self._budget = budget
        self._cost = cost
        self._bytes = 0
        self._entries: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, build):
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        found = build()
        with self._lock:
            if key not in self._entries:
                self._entries[key] = found
                self._bytes += self._cost(found)
                while self._bytes > self._budget and len(self._entries) > 1:
                    _, dropped = self._entries.popitem(last=False)
                    self._bytes -= self._cost(dropped)
        return found

    def keep_only(self, segids: set[str]) -> None:
        with self._lock:
            for key in [key for key in self._entries if key[0] not in segids]:
                self._bytes -= self._cost(self._entries.pop(key))

    def __len__(self) -> int:
        return len(self._entries)


class SegmentFacts:
    """Per-document data of one segment, in local document numbers."""

    def __init__(self, reader: IndexReader):
        self.segid = reader.segment().segid
        self.size = size = reader.doc_count_all()
        self.slugs: list[str] = list(reader.column_reader("slug"))
        self.updated: list[datetime] = [moment or _EPOCH for moment in reader.column_reader("updated_at")]
        self.published = self._docs(reader, "status", PUBLISHED)
        self.external = self._docs(reader, "audience", EXTERNAL)
        self.facets: dict[str, dict[str, int]] = {}
        for facet, field in FACET_FIELDS.items():
            values = {}
            for btext in reader.lexicon(field):
                docs = docsets.from_docnums(reader.postings(field, btext).all_ids(), size)
                if docs:
                    values[btext.decode("utf-8")] = docs
            self.facets[facet] = values
        self._lock = threading.Lock()
        self._titles: list[str] | None = None
        self._usage: array | None = None
        self._lengths: dict[str, array] = {}
        self._factors: tuple[date, list[float]] | None = None
        self._words: dict[str, frozenset[str]] = {}

    def words(self, reader: IndexReader, field: str) -> frozenset[str]:
        """Every term of ``field`` in this segment (as its term index holds them)."""
        with self._lock:
            found = self._words.get(field)
            if found is None:
                found = self._words[field] = frozenset(b.decode("utf-8") for b in reader.lexicon(field))
            return found

    def _docs(self, reader: IndexReader, field: str, value: str) -> int:
        if (field, value) not in reader:
            return docsets.EMPTY
        return docsets.from_docnums(reader.postings(field, value).all_ids(), self.size)

    def titles(self, reader: IndexReader) -> list[str]:
        """Titles (read from stored fields on first use: completion only)."""
        with self._lock:
            if self._titles is None:
                self._titles = [reader.stored_fields(docnum).get("title", "") for docnum in range(self.size)]
            return self._titles

    def usage(self, reader: IndexReader) -> array:
        """Each document's usage score (its column, read whole)."""
        with self._lock:
            if self._usage is None:
                column = reader.column_reader("usage_score", translate=False)
                self._usage = _whole_column(column, self.size)
                if self._usage is None:
                    self._usage = array("f", reader.column_reader("usage_score"))
            return self._usage

    def lengths(self, reader: IndexReader, field: str) -> array:
        """The length of ``field`` in each document, as Whoosh keeps it: a byte a
        document in a column, read whole (asking Whoosh a document at a time took
        about 0.1 s a field at 100,000 items, on every new process's first searches)."""
        with self._lock:
            found = self._lengths.get(field)
            if found is None:
                found = self._lengths[field] = _field_lengths(reader, field, self.size)
            return found

    def factors(self, reader: IndexReader, today: date) -> list[float]:
        """The ranking boost factor of each document, for ``today``."""
        cached = self._factors
        if cached is not None and cached[0] == today:
            return cached[1]
        usage = self.usage(reader)
        factors = [boost_factor(u, s, today) for u, s in zip(self.updated, usage, strict=True)]
        self._factors = (today, factors)
        return factors


_LENGTH_OF_BYTE = array("I", (byte_to_length(b) if b else 0 for b in range(256)))


def _whole_column(column, size: int) -> array | None:
    """Every value of a Whoosh numeric column at once, or None for another kind of
    column (then the caller asks a document at a time)."""
    if not isinstance(column, NumericColumn.Reader):
        return None
    found = array(column._typecode)
    found.frombytes(column._dbfile.get(column._basepos, column._count * column._fixedlen))
    if found.itemsize > 1 and sys.byteorder == "little":
        found.byteswap()  # Whoosh writes numbers big-endian
    found.extend([column._default] * (size - len(found)))  # trailing defaults are not written
    return found


def _field_lengths(reader: IndexReader, field: str, size: int) -> array:
    perdoc = getattr(reader, "_perdoc", None)
    name = f"_{field}_len"  # Whoosh's column of a field's length bytes
    if perdoc is not None and perdoc.has_column(name):
        encoded = _whole_column(perdoc.column_reader(name, LENGTHS_COLUMN), size)
        if encoded is not None:
            return array("I", map(_LENGTH_OF_BYTE.__getitem__, encoded))
    length = reader.doc_field_length
    return array("I", (length(d, field, 0) or 0 for d in range(size)))


class FactsCache:
    """Segment facts, and recently used postings and phrases, by segment id, for
    one index folder."""

    def __init__(self):
        self._facts: dict[str, SegmentFacts] = {}
        self._lock = threading.Lock()
        self.postings = _Kept(_POSTINGS_CACHE_BYTES,
                              lambda found: 8 * len(found.ids) + (found.docs or 0).bit_length() // 8 + 200)
        self.pairs = _Kept(_PAIRS_CACHE_BYTES, lambda docs: docs.bit_length() // 8 + 100)

    def segment_postings(self, leaf: IndexReader, segid: str, field: str, term: bytes) -> SegmentPostings:
        return self.postings.get((segid, field, term), lambda: read_postings(leaf, field, term))

    def segment_pairs(self, leaf: IndexReader, segid: str, term: bytes, follower: bytes) -> int:
        return self.pairs.get((segid, term, follower), lambda: read_pairs(leaf, term, follower))

    def get(self, reader: IndexReader) -> SegmentFacts:
        segid = reader.segment().segid
        with self._lock:
            facts = self._facts.get(segid)
        if facts is None:
            facts = SegmentFacts(reader)
            with self._lock:
                facts = self._facts.setdefault(segid, facts)
        return facts

    def keep_only(self, segids: set[str]) -> None:
        with self._lock:
            for segid in list(self._facts):
                if segid not in segids:
                    del self._facts[segid]
        self.postings.keep_only(segids)
        self.pairs.keep_only(segids)


class Snapshot:
    """Doc sets and lazily built tables for one index generation."""

    def __init__(self, key: tuple, reader: IndexReader, facts_cache: FactsCache):
        self.key = key
        self.size = size = reader.doc_count_all()
        self.segments: list[tuple[SegmentFacts, int]] = []
        marks = bytearray(b"\x01" * size)
        published = external = docsets.EMPTY
        facet_docs: dict[str, dict[str, int]] = {facet: {} for facet in FACETS}
        for leaf, offset in _leaves(reader):
            facts = facts_cache.get(leaf)
            self.segments.append((facts, offset))
            if leaf.has_deletions():
                for docnum in leaf.segment().deleted_docs():
                    marks[offset + docnum] = 0
            published |= docsets.shifted(facts.published, offset)
            external |= docsets.shifted(facts.external, offset)
            for facet, values in facts.facets.items():
                merged = facet_docs[facet]
                for value, docs in values.items():
                    merged[value] = merged.get(value, 0) | docsets.shifted(docs, offset)
        facts_cache.keep_only({facts.segid for facts, _ in self.segments})
        self._facts_cache = facts_cache
        live = int.from_bytes(marks, "little")
        self._live = live
        self.visible = {STAFF: published & live, CHAMPION: published & external & live}
        self._by_slug: dict[str, int] | None = None
        self._restricted = _Kept(_KEPT_RESTRICTED)
        self.facet_docs = facet_docs
        self._lock = threading.Lock()
        term_budget = max(_TERM_CACHE_BYTES // max(size, 1), 64)
        self._terms = _Kept(term_budget)
        self._postings = _Kept(term_budget)
        self._lengths: dict[str, array] = {}
        self._factors: tuple[date, list[float]] | None = None
        self._newest: tuple[list[int], array] | None = None
        self._avgfl: dict[tuple[str, str], float] = {}
        self._titles: dict[str, tuple[list[str], list[tuple[str, int]]]] = {}
        self._words: dict[str, frozenset[str]] = {}

    def _with_leaves(self, reader: IndexReader) -> list[tuple[SegmentFacts, int, IndexReader]]:
        """This generation's segments paired with the caller's own leaf readers."""
        leaves = [leaf for leaf, _ in _leaves(reader)]
        return [(facts, offset, leaf) for (facts, offset), leaf in zip(self.segments, leaves, strict=True)]

    # Documents ------------------------------------------------------------

    def visible_to(self, group: Group) -> int:
        """The documents a class may see, or an :class:`Only` viewer: those of their
        class that carry one of their slugs. Anything else sees nothing."""
        if isinstance(group, str):
            return self.visible.get(group, docsets.EMPTY)
        if not isinstance(group, Only) or group.within not in self.visible:
            return docsets.EMPTY

        def build() -> int:
            by_slug = self.docnum_by_slug()
            found = [by_slug[slug] for slug in group.slugs if slug in by_slug]
            return self.visible[group.within] & docsets.from_docnums(found, self.size)

        return self._remember(("visible", group), build)

    def _remember(self, key: tuple, build):
        """A value about an :class:`Only` viewer, kept while recently used (there are as
        many such viewers as champions, so they are not kept for good)."""
        return self._restricted.get(key, build)

    def buyer_words(self, reader: IndexReader, group: Only) -> dict[str, int]:
        """The words of the titles and summaries an :class:`Only` viewer may see, each with
        the documents holding it: what is corrected and completed for them."""

        def build() -> dict[str, int]:
            visible = self.visible_to(group)
            stored = (reader.stored_fields(docnum) for docnum in docsets.members(visible, self.size))
            return buyer_lexicon((fields.get("title", ""), fields.get("summary", "")) for fields in stored)

        return self._remember(("words", group), build)

    def docnum_by_slug(self) -> dict[str, int]:
        """Each live document's number, by slug."""
        with self._lock:
            found = self._by_slug
        if found is None:
            marks = docsets.marks(self._live, self.size)
            found = {}
            for facts, offset in self.segments:
                for local, slug in enumerate(facts.slugs):
                    if marks[offset + local]:
                        found[slug] = offset + local
            with self._lock:
                self._by_slug = found
        return found

    def slug(self, docnum: int) -> str:
        for facts, offset in reversed(self.segments):
            if docnum >= offset:
                return facts.slugs[docnum - offset]
        raise IndexError(docnum)

    def _cached(self, key: tuple, build) -> int:
        return self._terms.get(key, build)

    def postings(self, reader: IndexReader, field: str, term: str | bytes) -> Postings:
        """A text field's postings of ``term``: each segment's read once and kept
        while recently used (:class:`FactsCache`), their live documents as one set."""
        if isinstance(term, str):
            term = term.encode("utf-8")

        def build() -> Postings:
            docs, parts = docsets.EMPTY, []
            for facts, offset, leaf in self._with_leaves(reader):
                segment = self._facts_cache.segment_postings(leaf, facts.segid, field, term)
                if segment.ids:
                    docs |= docsets.shifted(segment.doc_set(facts.size), offset)
                    parts.append((offset, facts.size, segment))
            return Postings(docs & self._live, tuple(parts))

        return self._postings.get((field, term), build)

    def term_docs(self, reader: IndexReader, field: str, term: str | bytes) -> int:
        """The live documents containing ``term`` in ``field``."""
        if field in TEXT_FIELDS:
            return self.postings(reader, field, term).docs
        if isinstance(term, str):
            term = term.encode("utf-8")

        def build() -> int:
            if (field, term) not in reader:
                return docsets.EMPTY
            return docsets.from_docnums(reader.postings(field, term).all_ids(), self.size)

        return self._cached(("t", field, term), build)

    def pair_docs(self, reader: IndexReader, first: str, second: str) -> int:
        """The live documents where ``second`` directly follows ``first`` in
        one of the text fields (see :func:`read_pairs`)."""
        term, follower = first.encode("utf-8"), second.encode("utf-8")

        def build() -> int:
            docs = docsets.EMPTY
            for facts, offset, leaf in self._with_leaves(reader):
                found = self._facts_cache.segment_pairs(leaf, facts.segid, term, follower)
                docs |= docsets.shifted(found, offset)
            return docs & self._live

        return self._cached(("p", term, follower), build)

    def newest_first(self) -> tuple[list[int], array]:
        """Every document number, most recently updated first (then by slug),
        and each document's position in that order."""
        with self._lock:
            if self._newest is None:
                keys = []
                for facts, offset in self.segments:
                    keys.extend(
                        (moment, slug, offset + local)
                        for local, (moment, slug) in enumerate(zip(facts.updated, facts.slugs, strict=True))
                    )
                keys.sort(key=lambda k: k[1])
                keys.sort(key=lambda k: k[0], reverse=True)  # stable: slugs stay in order
                order = [docnum for _, _, docnum in keys]
                rank = array("L", bytes(array("L").itemsize * self.size))
                for position, docnum in enumerate(order):
                    rank[docnum] = position
                self._newest = (order, rank)
            return self._newest

    def newest(self, docs: int, start: int, stop: int) -> list[int]:
        """Documents of ``docs`` ranked ``start`` to ``stop`` by newest first."""
        order, rank = self.newest_first()
        if docsets.count(docs) <= 2000:
            ranked = sorted(docsets.members(docs, self.size), key=rank.__getitem__)
            return ranked[start:stop]
        marks = docsets.marks(docs, self.size)
        found: list[int] = []
        for docnum in order:
            if marks[docnum]:
                found.append(docnum)
                if len(found) >= stop:
                    break
        return found[start:stop]

    # Ranking --------------------------------------------------------------

    def idf(self, reader: IndexReader, viewer_class: Group, field: str, term: bytes) -> float:
        """Inverse document frequency among the documents this viewer may see,
        so that no score depends on hidden documents."""
        visible = self.visible_to(viewer_class)
        seen = docsets.count(self.term_docs(reader, field, term) & visible)
        return log(max(docsets.count(visible), 1) / (seen + 1)) + 1.0

    def avg_field_length(self, reader: IndexReader, viewer_class: Group, field: str) -> float:
        """Average length of ``field`` over the documents this viewer may see."""
        if not isinstance(viewer_class, str):
            return self._remember(("avgfl", viewer_class, field),
                                  lambda: self._average_length(reader, viewer_class, field))
        with self._lock:
            found = self._avgfl.get((viewer_class, field))
        if found is not None:
            return found
        average = self._average_length(reader, viewer_class, field)
        with self._lock:
            self._avgfl[(viewer_class, field)] = average
        return average

    def _average_length(self, reader: IndexReader, viewer_class: Group, field: str) -> float:
        visible = self.visible_to(viewer_class)
        total = 0
        for facts, offset, leaf in self._with_leaves(reader):
            local = (visible >> (8 * offset)) & docsets.full(facts.size)
            total += sum(compress(facts.lengths(leaf, field), docsets.marks(local, facts.size)))
        return total / max(docsets.count(visible), 1) or 1.0

    def factors(self, reader: IndexReader, today: date | None = None) -> list[float]:
        """The ranking boost factor of each document (see :func:`boost_factor`)."""
        today = today or datetime.now(UTC).date()
        cached = self._factors
        if cached is not None and cached[0] == today:
            return cached[1]
        factors: list[float] = []
        for facts, _, leaf in self._with_leaves(reader):
            factors.extend(facts.factors(leaf, today))
        self._factors = (today, factors)
        return factors

    def lengths(self, reader: IndexReader, field: str) -> array:
        """The length of ``field`` in each document, as Whoosh keeps it."""
        with self._lock:
            found = self._lengths.get(field)
        if found is None:
            found = array("I")
            for facts, _, leaf in self._with_leaves(reader):
                found.extend(facts.lengths(leaf, field))
            with self._lock:
                self._lengths[field] = found
        return found

    # Spelling -------------------------------------------------------------

    def words(self, reader: IndexReader, field: str) -> frozenset[str]:
        """Every term of a words field, as one set: "did you mean" looks up hundreds of
        candidate spellings a query, and a set answers each in well under a microsecond
        where Whoosh's term index takes tens. Like the term index it keeps the words of
        deleted documents; the caller counts visible documents anyway."""
        with self._lock:
            found = self._words.get(field)
        if found is None:
            segments = self._with_leaves(reader)
            found = frozenset().union(*(facts.words(leaf, field) for facts, _, leaf in segments))
            with self._lock:
                self._words[field] = found
        return found

    # Completion -----------------------------------------------------------

    def titles(self, reader: IndexReader, viewer_class: Group) -> tuple[list[str], list[tuple[str, int]]]:
        """Visible titles, and (lower-case title from a word start, title index)
        sorted, for word-prefix completion."""
        if not isinstance(viewer_class, str):
            return self._remember(("titles", viewer_class),
                                  lambda: self._visible_titles(reader, viewer_class))
        with self._lock:
            found = self._titles.get(viewer_class)
        if found is not None:
            return found
        found = self._visible_titles(reader, viewer_class)
        with self._lock:
            self._titles[viewer_class] = found
        return found

    def _visible_titles(self, reader: IndexReader,
                        viewer_class: Group) -> tuple[list[str], list[tuple[str, int]]]:
        visible = docsets.marks(self.visible_to(viewer_class), self.size)
        titles: list[str] = []
        starts: list[tuple[str, int]] = []
        for facts, offset, leaf in self._with_leaves(reader):
            for local, title in enumerate(facts.titles(leaf)):
                if not title or not visible[offset + local]:
                    continue
                index = len(titles)
                titles.append(title)
                lowered = title.lower()
                for position, char in enumerate(lowered):
                    if _TITLE_WORD.match(char) and (
                        position == 0 or not _TITLE_WORD.match(lowered[position - 1])
                    ):
                        starts.append((lowered[position : position + 80], index))
        starts.sort()
        return titles, starts

    def complete_title(self, reader: IndexReader, viewer_class: Group, prefix: str, limit: int) -> list[str]:
        titles, starts = self.titles(reader, viewer_class)
        prefix = prefix.lower()[:80]
        chosen: dict[int, tuple] = {}
        position = bisect_left(starts, (prefix, -1))
        scanned = 0
        while position < len(starts) and starts[position][0].startswith(prefix):
            index = starts[position][1]
            title = titles[index]
            rank = (not title.lower().startswith(prefix), len(title), title.lower())
            if index not in chosen or rank < chosen[index]:
                chosen[index] = rank
            position += 1
            scanned += 1
            if scanned >= 5000:
                break
        ranked = sorted(chosen.items(), key=lambda pair: pair[1])
        seen: set[str] = set()
        result = []
        for index, _ in ranked:
            key = titles[index].casefold()
            if key not in seen:
                seen.add(key)
                result.append(titles[index])
            if len(result) >= limit:
                break
        return result


def _leaves(reader: IndexReader) -> list[tuple[IndexReader, int]]:
    """The segment readers of ``reader`` (none for an empty index)."""
    return [(leaf, offset) for leaf, offset in reader.leaf_readers() if leaf.segment() is not None]
