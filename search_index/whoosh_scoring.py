"""Ranking: BM25F over what the viewer may see, with a modest boost.

For a document ``d`` matching the query::

    final(d) = bm25f(d) * (1 + 0.15 * freshness(d) + 0.15 * usage(d))

- ``bm25f(d)`` is the sum, over the query's terms and the text fields, of the
  field boost (title 3, summary 1.5, tags 1.5, argument 1.2, body 1,
  file text 0.7) times Okapi BM25 (K1 = 1.2, B = 0.75). Its document frequency
  and average field length are taken over the documents the viewer's class
  may see, so no score reveals anything about hidden documents.
- ``freshness(d)`` falls linearly from 1 (updated today, UTC) to 0 at 365 days.
- ``usage(d)`` is the item's recent-usage score, clamped to 0..1.

Relevance comes first: the boost can lift a document's score by at most 30 %.

The sum is the one Whoosh's query tree (:func:`search_index.query_text.build_query`)
would compute -- every term of every alternative of every unit, an
alternative counting only where all its words occur -- but it is computed a
term at a time over the cached postings of the snapshot, for the allowed
documents only. Whoosh's own top-N search walks the query's matches a
document at a time through a tree of matchers and, with six fields per term,
its block-skipping bounds are loose: at 10,000 items a two-word query took
tens of milliseconds where this takes one or two.
"""

from __future__ import annotations

from heapq import nsmallest
from typing import TYPE_CHECKING

from . import docsets
from .query_text import FIELD_BOOSTS, Plan

if TYPE_CHECKING:
    from .whoosh_snapshot import Snapshot

B = 0.75
K1 = 1.2


def rank(
    snapshot: Snapshot,
    reader,
    units: Plan,
    viewer_class,
    allowed: int,
    limit: int,
    levels: bytes | None = None,
    boosts: dict[str, float] = FIELD_BOOSTS,
) -> list[tuple[int, float]]:
    """The ``limit`` best of the ``allowed`` documents as (document number,
    score), best first; equal scores in document order. With ``levels`` (a byte
    per document: how many of the query's units it matches), the documents
    matching more units come first, whatever their scores."""
    if not allowed or limit <= 0:
        return []
    marks = docsets.marks(allowed, snapshot.size)
    totals: dict[int, float] = {}
    for unit in units:
        for alternative in unit:
            words = tuple(dict.fromkeys(alternative))
            if len(words) == 1:
                _add_word(snapshot, reader, viewer_class, words[0], marks, boosts, totals)
                continue
            # a phrase's words count where all of them occur (adjacent or not)
            partial: dict[int, float] = {}
            present = allowed
            for word in words:
                docs = _add_word(snapshot, reader, viewer_class, word, marks, boosts, partial)
                present &= docs
            if present:
                where = docsets.marks(present, snapshot.size)
                for docnum, score in partial.items():
                    if where[docnum]:
                        totals[docnum] = totals.get(docnum, 0.0) + score
    factors = snapshot.factors(reader)
    # negated, so that plain tuple order is the ranking: no key function per document
    if levels is None:
        best = nsmallest(limit, [(-score * factors[d], d) for d, score in totals.items()])
        return [(docnum, -score) for score, docnum in best]
    best = nsmallest(limit, [(-levels[d], -score * factors[d], d) for d, score in totals.items()])
    return [(docnum, -score) for _, score, docnum in best]


def _add_word(
    snapshot: Snapshot,
    reader,
    viewer_class,
    word: str,
    marks: bytes,
    boosts: dict[str, float],
    totals: dict[int, float],
) -> int:
    """Add one word's BM25 in every text field to ``totals`` for the marked
    documents; return the documents having the word in any field."""
    term = word.encode("utf-8")
    found = docsets.EMPTY
    for field, boost in boosts.items():
        postings = snapshot.postings(reader, field, term)
        if not postings.parts:
            continue
        found |= postings.docs
        idf = snapshot.idf(reader, viewer_class, field, term)
        avgfl = snapshot.avg_field_length(reader, viewer_class, field) or 1.0
        lengths = snapshot.lengths(reader, field)
        # boost * bm25(idf, w, length, avgfl), with the constants taken out
        scale = boost * idf * (K1 + 1)
        base = K1 * (1 - B)
        per_length = K1 * B / avgfl
        get = totals.get
        for offset, size, segment in postings.parts:
            # a segment's postings are in its own numbers (deleted documents
            # included: never marked): look them up in its slice of the marks
            local = marks[offset : offset + size]
            for docnum, weight in zip(segment.ids, segment.weights, strict=True):
                if local[docnum]:
                    docnum += offset
                    norm = weight + base + per_length * lengths[docnum]
                    totals[docnum] = get(docnum, 0.0) + scale * weight / norm
    return found
