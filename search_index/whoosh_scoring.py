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
The factor is applied inside each term's scorer (every term of a document is
multiplied by the same factor, so the sum is multiplied by it) with the upper
bound raised by 1.3, which keeps Whoosh's block-skipping top-N search exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from whoosh.scoring import WeightingModel, WeightLengthScorer, WeightScorer, bm25

from .whoosh_snapshot import MAX_FACTOR

B = 0.75
K1 = 1.2


class VisibleBM25F(WeightingModel):
    """BM25F with viewer-class statistics and a per-document boost factor."""

    use_final = False

    def __init__(
        self,
        idf: Callable[[str, bytes], float],
        avg_field_length: Callable[[str], float],
        factors: Mapping[str, Sequence[float]],
    ):
        self._idf = idf
        self._avgfl = avg_field_length
        self._factors = factors

    def supports_block_quality(self) -> bool:
        return True

    def scorer(self, searcher, fieldname, text, qf=1):
        if not searcher.schema[fieldname].scorable:
            return WeightScorer.for_(searcher, fieldname, text)
        reader = searcher.reader()
        segment = reader.segment() if reader.is_atomic() else None
        factors = self._factors.get(segment.segid) if segment is not None else None
        return _BoostedScorer(
            searcher, fieldname, text, self._idf(fieldname, text), self._avgfl(fieldname), factors
        )


class _BoostedScorer(WeightLengthScorer):
    def __init__(self, searcher, fieldname, text, idf, avgfl, factors):
        self.idf = idf
        self.avgfl = avgfl or 1.0
        self._factors = factors
        self.setup(searcher, fieldname, text)
        self._maxquality *= MAX_FACTOR

    def _score(self, weight, length):
        return bm25(self.idf, weight, length, self.avgfl, B, K1)

    def score(self, matcher):
        base = self._score(matcher.weight(), self.dfl(matcher.id()))
        factors = self._factors
        return base * factors[matcher.id()] if factors is not None else base

    def block_quality(self, matcher):
        return self._score(matcher.block_max_weight(), matcher.block_min_length()) * MAX_FACTOR
