"""Sets of document numbers as Python integers, one byte per document.

Byte ``d`` (little-endian) of the integer is 1 when document ``d`` is in the
set. Intersections are a single ``&`` and sizes a single ``int.bit_count()``,
both in C, so a search can count dozens of facet values over 100,000
documents in a few milliseconds. A byte per document (rather than a bit)
makes membership and enumeration cheap too: ``to_bytes`` then index or
``bytes.find``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator

from whoosh import query
from whoosh.idsets import DocIdSet
from whoosh.matching import IntersectionMatcher, ListMatcher, NullMatcher, ReadTooFar

EMPTY = 0


def from_docnums(docnums: Iterable[int], size: int) -> int:
    marks = bytearray(size)
    for docnum in docnums:
        marks[docnum] = 1
    return int.from_bytes(marks, "little")


def full(size: int) -> int:
    return int.from_bytes(b"\x01" * size, "little")


def count(docs: int) -> int:
    return docs.bit_count()


def marks(docs: int, size: int) -> bytes:
    """One byte per document: 1 when in the set."""
    return docs.to_bytes(size, "little") if size else b""


def members(docs: int, size: int) -> Iterator[int]:
    """The document numbers in the set, ascending."""
    data = marks(docs, size)
    find = data.find
    position = find(1)
    while position != -1:
        yield position
        position = find(1, position + 1)


def shifted(docs: int, offset: int) -> int:
    """The set moved up by ``offset`` documents (a segment's set made global)."""
    return docs << (8 * offset)


class MarksFilter(DocIdSet):
    """A read-only membership test Whoosh accepts as a search ``filter``."""

    def __init__(self, docs: int, size: int):
        self._marks = marks(docs, size)
        self._count = count(docs)

    def __contains__(self, docnum: int) -> bool:
        return 0 <= docnum < len(self._marks) and self._marks[docnum] == 1

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        # Whoosh tests a filter for truth before using it; an empty filter must
        # still be applied (it allows nothing), so it is always "true".
        return True

    def __iter__(self) -> Iterator[int]:
        find = self._marks.find
        position = find(1)
        while position != -1:
            yield position
            position = find(1, position + 1)


class Within(query.Query):
    """A query's matches limited to the documents of a doc set, with the
    query's own scores.

    Whoosh's ``filter`` argument drops matches only after they were found and
    scored. This query instead skips the segments holding none of the
    documents, and with ``lead`` it steps through the documents themselves,
    letting the query's postings skip to each (worth it when they are far
    fewer than the postings the query would walk). Block-quality skipping is
    off while leading, which changes no score.

    ``segments`` maps each segment id of the index to its (first document
    number, document count).
    """

    def __init__(self, docs: int, segments: dict[str, tuple[int, int]], child: query.Query, lead: bool):
        self.docs = docs
        self.segments = segments
        self.child = child
        self.lead = lead
        self.boost = 1.0

    def __eq__(self, other) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"Within({count(self.docs)} documents, {self.child!r}, lead={self.lead})"

    def is_leaf(self) -> bool:
        return False

    def children(self) -> list[query.Query]:
        return [self.child]

    def estimate_size(self, ixreader) -> int:
        return min(count(self.docs), self.child.estimate_size(ixreader))

    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        segment = reader.segment() if reader.is_atomic() else None
        found = self.segments.get(segment.segid) if segment is not None else None
        if found is None:
            return self.child.matcher(searcher, context)
        offset, size = found
        local = (self.docs >> (8 * offset)) & full(size)
        if not local:
            return NullMatcher()
        child = self.child.matcher(searcher, context)
        if not self.lead or not child.is_active():
            return child
        return IntersectionMatcher(_DocsMatcher(list(members(local, size))), child)


class _DocsMatcher(ListMatcher):
    """Ascending document numbers, each scoring 0; skips by bisection."""

    def skip_to(self, id):
        if not self.is_active():
            raise ReadTooFar
        if id > self._ids[self._i]:
            self._i = bisect_left(self._ids, id, self._i)

    def weight(self) -> float:
        return 0.0

    def score(self) -> float:
        return 0.0

    def supports_block_quality(self) -> bool:
        return False

    def block_max_weight(self) -> float:
        return 0.0

    def max_quality(self) -> float:
        return 0.0
