"""Search latency on a seeded synthetic library, ours against naive Whoosh.

    python bench/search.py              # 10,000 items
    python bench/search.py --large      # 100,000 items
    python bench/search.py --items 2000 --queries 100
    python bench/search.py --batch 1000 # index as the portal does, 1,000 per commit

Builds a library of items of about 250 words (Zipf-distributed pseudo-words,
realistic facet spreads, 30 % internal, 15 % not published) through
``WhooshBackend.rebuild`` (one segment), or with ``--batch`` through
``index_items`` a batch per commit (a segment each, as the portal's change log
drain writes them), then times four kinds of query through
``WhooshBackend.search`` -- free text, free text with filters, two-word
phrases, and browsing with facets -- for a rep and a champion in turn. The same
queries then run on the same index the naive way: Whoosh's MultifieldParser
with its default plugins, visibility as a filter query, and facet counts from
``groupedby`` (phrases show "n/a": the text fields keep no positions, so
Whoosh's phrase query refuses them). Everything is seeded, so runs are
comparable. See docs/performance.md for figures and targets.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from whoosh import query as wq  # noqa: E402
from whoosh import sorting  # noqa: E402
from whoosh.qparser import MultifieldParser  # noqa: E402

from content_library.records import SearchableItem, Viewer  # noqa: E402
from search_index import FACETS, SearchQuery  # noqa: E402
from search_index.query_text import FIELD_BOOSTS  # noqa: E402
from search_index.whoosh_backend import WhooshBackend  # noqa: E402

SYLLABLES = [a + b for a in "bcdfghklmnprstvz" for b in ("a", "e", "i", "o", "u", "ar", "en", "ol")]
SUFFIXES = ["", "", "", "ing", "ion", "s", "ed", "ment", "er"]
TAGS = {
    "stage": [f"stage-{n}" for n in range(12)],
    "stakeholder": [f"role-{n}" for n in range(10)],
    "solution": [f"solution-{n}" for n in range(8)],
    "vertical": [f"vertical-{n}" for n in range(10)],
    "type": [f"type-{n}" for n in range(10)],
}
REP, CHAMPION = Viewer(sees_internal=True), Viewer(sees_internal=False)


class Library:
    """A seeded vocabulary and the items made from it."""

    def __init__(self, seed: int, vocabulary: int = 20_000):
        self.random = random.Random(seed)
        words = set()
        while len(words) < vocabulary:
            stem = "".join(self.random.choices(SYLLABLES, k=self.random.choice((1, 2, 2, 3))))
            words.add(stem + self.random.choice(SUFFIXES))
        self.words = sorted(words)
        self.random.shuffle(self.words)
        weights = [1.0 / (rank + 10) for rank in range(len(self.words))]  # Zipf-like
        self.cumulative = list(itertools.accumulate(weights))
        self.now = datetime(2026, 5, 1, tzinfo=UTC)

    def text(self, count: int) -> str:
        return " ".join(self.random.choices(self.words, cum_weights=self.cumulative, k=count))

    def tags(self, facet: str, low: int, high: int) -> tuple[str, ...]:
        return tuple(sorted(self.random.sample(TAGS[facet], self.random.randint(low, high))))

    def item(self, number: int) -> SearchableItem:
        r = self.random
        body = self.text(r.randint(200, 300))
        return SearchableItem(
            slug=f"item-{number}",
            title=self.text(r.randint(3, 7)).capitalize(),
            summary=self.text(r.randint(15, 30)),
            body_text=body,
            argument_text=self.text(r.randint(0, 40)),
            file_text="",
            tag_names="",
            type=r.choice(TAGS["type"]),
            audience="internal" if r.random() < 0.3 else "external",
            status=r.choices(["published", "draft", "archived"], [85, 10, 5])[0],
            stages=self.tags("stage", 1, 2),
            stakeholders=self.tags("stakeholder", 1, 3),
            solutions=self.tags("solution", 0, 2),
            verticals=self.tags("vertical", 0, 2),
            updated_at=self.now - timedelta(days=r.randint(0, 730)),
            usage_score=r.random() ** 3,
            fingerprint=f"fp-{number}",
        )

    def items(self, count: int):
        for number in range(count):
            yield self.item(number)


def make_queries(library: Library, count: int, seed: int) -> dict[str, list[SearchQuery]]:
    r = random.Random(seed)
    middle = library.words[30:3000]  # what people type: neither stop-like nor unheard of

    def filters(most: int) -> dict[str, tuple[str, ...]]:
        chosen = r.sample(FACETS, r.randint(1, most))
        return {f: tuple(r.sample(TAGS[f], r.randint(1, 2))) for f in chosen}

    def phrase() -> str:
        words = library.text(40).split()
        start = r.randrange(len(words) - 1)
        return f'"{words[start]} {words[start + 1]}"'

    return {
        "free text": [SearchQuery(" ".join(r.sample(middle, r.randint(1, 3)))) for _ in range(count)],
        "filtered": [
            SearchQuery(" ".join(r.sample(middle, r.randint(1, 2))), filters=filters(2)) for _ in range(count)
        ],
        "phrase": [SearchQuery(phrase()) for _ in range(count)],
        "browse+facets": [
            SearchQuery("", filters=filters(2) if r.random() < 0.7 else {}) for _ in range(count)
        ],
    }


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {cuts[49]:7.1f}  p95 {cuts[94]:7.1f}  p99 {cuts[98]:7.1f} ms"


def time_ours(backend: WhooshBackend, queries: list[SearchQuery]) -> list[float]:
    samples = []
    for number, query in enumerate(queries):
        viewer = CHAMPION if number % 2 else REP
        started = time.perf_counter()
        backend.search(query, viewer)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


class NaiveWhoosh:
    """How Whoosh is commonly used: parse the user's string, group for facets."""

    def __init__(self, ix):
        self.ix = ix
        self.parser = MultifieldParser(list(FIELD_BOOSTS), ix.schema, fieldboosts=FIELD_BOOSTS)
        self.facets = {f: sorting.FieldFacet(f, allow_overlap=True) for f in FACETS}

    def search(self, query: SearchQuery, viewer: Viewer) -> None:
        visible = [wq.Term("status", "published")]
        if not viewer.sees_internal:
            visible.append(wq.Term("audience", "external"))
        for facet, values in query.filters.items():
            visible.append(wq.Or([wq.Term(facet, v) for v in values]))
        start = (query.page - 1) * query.per_page
        with self.ix.searcher() as searcher:
            if query.text.strip():
                parsed = self.parser.parse(query.text)
                results = searcher.search_page(
                    parsed,
                    query.page,
                    pagelen=query.per_page,
                    filter=wq.And(visible),
                    groupedby=self.facets,
                )
            else:
                results = searcher.search_page(
                    wq.Every(),
                    query.page,
                    pagelen=query.per_page,
                    filter=wq.And(visible),
                    groupedby=self.facets,
                    sortedby="updated_at",
                    reverse=True,
                )
            _ = [hit["slug"] for hit in results][start : start + query.per_page]
            _ = {facet: results.results.groups(facet) for facet in FACETS}


def time_naive(naive: NaiveWhoosh, queries: list[SearchQuery]) -> list[float] | None:
    samples = []
    for number, query in enumerate(queries):
        viewer = CHAMPION if number % 2 else REP
        started = time.perf_counter()
        try:
            naive.search(query, viewer)
        except wq.QueryError:  # our text fields keep no positions: phrases use followers
            return None
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="100,000 items")
    parser.add_argument("--items", type=int, help="number of items (default 10,000)")
    parser.add_argument("--queries", type=int, default=300, help="queries per kind")
    parser.add_argument("--seed", type=int, default=20260501)
    parser.add_argument("--dir", type=Path, help="index folder (default: a temporary one)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--batch", type=int, default=0, help="index N items per commit instead of a rebuild")
    parser.add_argument("--postgres", metavar="DSN",
                        help="measure the PostgreSQL backend in this database (postgresql://...) "
                             "instead of Whoosh; the naive queries are skipped")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the index of --dir (or the --postgres table) when it already "
                             "holds the items, and only time the queries")
    options = parser.parse_args()
    count = options.items or (100_000 if options.large else 10_000)

    with tempfile.TemporaryDirectory(prefix="bench-search-") as scratch:
        folder = options.dir or Path(scratch) / "index"
        library = Library(options.seed)
        if options.postgres:
            from search_index.postgres_backend import PostgresBackend

            backend = PostgresBackend(options.postgres, writer_timeout=60, table="bench_documents")
            options.skip_naive = True
        else:
            backend = WhooshBackend(folder, writer_timeout=60)
        if options.reuse and len(backend.fingerprints()) >= count:
            main_queries(options, backend, library, count)
            return
        items = list(library.items(count))  # made before the clock starts
        started = time.perf_counter()
        if options.batch:
            for first in range(0, count, options.batch):
                backend.index_items(items[first : first + options.batch])
            indexed, how = count, f"index_items, {options.batch:,} per commit"
        else:
            indexed, how = backend.rebuild(items), "rebuild"
        took = time.perf_counter() - started
        del items
        print(f"items: {indexed:,}  build ({how}): {took:,.1f} s  ({indexed / took:,.0f} items/s), "
              f"{segment_count(backend)}")
        main_queries(options, backend, library, count)


def segment_count(backend) -> str:
    if not isinstance(backend, WhooshBackend):
        return "one table"
    with backend._store.current()[1].reader() as reader:
        segments = len(list(reader.leaf_readers()))
    return f"{segments} segment{'s' if segments != 1 else ''}"


def main_queries(options, backend, library: Library, count: int) -> None:
    """Time the queries on the built index (see the module's docstring)."""
    queries = make_queries(library, options.queries, options.seed + 1)
    started = time.perf_counter()
    backend.search(SearchQuery("", filters={"stage": ("stage-1",)}), REP)
    backend.search(queries["free text"][0], REP)
    print(
        f"first searches after the rebuild (caches cold): "
        f"{(time.perf_counter() - started) * 1000:,.0f} ms"
    )
    for kind in queries:  # warm the term caches a little, as a live server would be
        time_ours(backend, queries[kind][:20])

    print(f"\n{'query kind':<15} {type(backend).__name__:<40} naive Whoosh (QueryParser + groupedby)")
    naive = None if options.skip_naive else NaiveWhoosh(backend._store.current()[1])
    for kind, batch in queries.items():
        ours = percentiles(time_ours(backend, batch))
        naive_samples = time_naive(naive, batch) if naive else None
        theirs = percentiles(naive_samples) if naive_samples else "n/a"
        print(f"{kind:<15} {ours:<40} {theirs}")

    backend.index_items([library.item(count + 1)])
    started = time.perf_counter()
    backend.search(queries["filtered"][0], REP)
    print(f"\nfirst search after a one-item write: {(time.perf_counter() - started) * 1000:,.1f} ms")
    started = time.perf_counter()
    for query in queries["free text"][:100]:
        backend.suggest(query.text[:3], CHAMPION)
    print(f"suggest (3 letters), mean: {(time.perf_counter() - started) * 10:,.1f} ms")


if __name__ == "__main__":
    main()
