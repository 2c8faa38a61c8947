"""Search relevance on the demo library: nDCG@10 and MRR over a judged set of queries.

    python bench/relevance.py                  # the Whoosh backend (SQLite database)
    python bench/relevance.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test
                                               # and the PostgreSQL backend, in a scratch
                                               # database made on that server and dropped after
    python bench/relevance.py --verbose        # every query's figures and first results

Without --database, PORTAL_TEST_DATABASE_URL is used when set. Each judged query in
bench/relevance_judgements.yaml says what was typed, any filters, who searches (a demo
role, rep unless said) and the items that answer it, graded 3 (the answer), 2 (a good
answer) or 1 (relevant); items not listed count 0. The queries run through the portal's
search service on a fresh portal loaded with the demo library, exactly as the search page
and the API run them (synonyms, visibility, the database re-check). A query's figures:

- nDCG@10: the discounted gain of the first ten results, sum of (2^grade - 1) / log2(rank + 1),
  over the same sum for the judged items in the best order;
- reciprocal rank: 1 / the rank of the first result graded 1 or more within the first ten,
  else 0 (MRR is its mean).

docs/search.md keeps the figures; tests/test_relevance.py keeps both above a floor.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

JUDGEMENTS = Path(__file__).resolve().parent / "relevance_judgements.yaml"
DEPTH = 10


@dataclass(frozen=True)
class Judgement:
    query: str
    kind: str  # typo, stem, synonym, phrase, partial, filter, plain
    grades: dict[str, int]
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    role: str = "rep"


@dataclass(frozen=True)
class Measured:
    judgement: Judgement
    ranked: list[str]
    ndcg: float
    reciprocal_rank: float


def load_judgements(path: Path = JUDGEMENTS) -> list[Judgement]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["queries"]
    judgements = []
    for entry in entries:
        grades = {slug: int(grade) for slug, grade in entry["relevant"].items()}
        if not any(grades.values()):
            raise ValueError(f"query {entry['query']!r} has no relevant item")
        filters = {facet: tuple(values) for facet, values in (entry.get("filters") or {}).items()}
        judgements.append(Judgement(entry["query"], entry["kind"], grades, filters, entry.get("role", "rep")))
    return judgements


def ndcg(ranked: list[str], grades: dict[str, int], depth: int = DEPTH) -> float:
    def gain(grade: int, rank: int) -> float:
        return (2**grade - 1) / math.log2(rank + 1)

    found = sum(gain(grades.get(slug, 0), rank) for rank, slug in enumerate(ranked[:depth], 1))
    ideal = sorted(grades.values(), reverse=True)[:depth]
    best = sum(gain(grade, rank) for rank, grade in enumerate(ideal, 1))
    return found / best if best else 0.0


def reciprocal_rank(ranked: list[str], grades: dict[str, int], depth: int = DEPTH) -> float:
    for rank, slug in enumerate(ranked[:depth], 1):
        if grades.get(slug, 0) > 0:
            return 1.0 / rank
    return 0.0


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def mean_ndcg(results: list[Measured]) -> float:
    return mean([result.ndcg for result in results])


def mean_reciprocal_rank(results: list[Measured]) -> float:
    return mean([result.reciprocal_rank for result in results])


def measure(app, judgements: list[Judgement]) -> list[Measured]:
    """Run every judged query through the search service of ``app`` (a portal holding
    the demo library)."""
    from content_library.services.demo import DEMO_USERS
    from content_library.services.users import find_by_email
    from portal.extensions import db
    from portal.indexing import backend
    from portal.search import service

    results = []
    with app.app_context():
        people = {person.role: find_by_email(db.session, person.email) for person in DEMO_USERS}
        for judgement in judgements:
            page = service.search(db.session, backend(), people[judgement.role], judgement.query,
                                  judgement.filters, per_page=DEPTH, log=False)
            ranked = [found.card.slug for found in page.found]
            results.append(Measured(judgement, ranked, ndcg(ranked, judgement.grades),
                                    reciprocal_rank(ranked, judgement.grades)))
    return results


@contextmanager
def demo_portal(database_url: str | None = None, search_backend: str = "whoosh") -> Iterator:
    """A portal on a fresh database (a SQLite file, or a scratch database made on the
    PostgreSQL server of ``database_url`` and dropped after) with the demo library indexed."""
    from sqlalchemy import select

    from content_library.models import Base, ContentItem
    from content_library.services.demo import load_demo, share_with_demo_champion
    from content_library.services.index_feed import DatabaseFeed
    from portal import create_app
    from portal.extensions import db
    from portal.indexing import backend

    with tempfile.TemporaryDirectory(prefix="relevance-") as folder, _database(database_url, folder) as url:
        app = create_app({
            "TESTING": True, "SECRET_KEY": "relevance-" + "x" * 40, "DATABASE_URL": url,
            "INDEX_DIR": str(Path(folder) / "index"), "UPLOAD_DIR": str(Path(folder) / "files"),
            "SEARCH_BACKEND": search_backend,
        })
        with app.app_context():
            Base.metadata.create_all(db.engine)
            load_demo(db.session, Path(app.config["UPLOAD_DIR"]))
            # The champion's queries are judged over every external item: shared them all.
            external = db.session.scalars(select(ContentItem.slug).where(
                ContentItem.audience == "external")).all()
            share_with_demo_champion(db.session, external, note="Everything, for the bench")
            db.session.commit()
            backend().rebuild(DatabaseFeed(db.session).everything())
        try:
            yield app
        finally:
            search = app.extensions.get("search")
            if search is not None and hasattr(search, "close"):
                search.close()
            with app.app_context():
                db.engine.dispose()


@contextmanager
def _database(server_url: str | None, folder: str) -> Iterator[str]:
    if not server_url:
        yield f"sqlite:///{Path(folder) / 'portal.db'}"
        return
    from sqlalchemy import create_engine, text

    name = f"portal_relevance_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rpartition("/")[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def report(name: str, results: list[Measured], verbose: bool = False) -> None:
    def figures(found: list[Measured]) -> str:
        return f"nDCG@10 {mean_ndcg(found):.3f}   MRR {mean_reciprocal_rank(found):.3f}"

    print(f"\n{name}: {len(results)} queries\n  {figures(results)}")
    by_kind: dict[str, list[Measured]] = defaultdict(list)
    for result in results:
        by_kind[result.judgement.kind].append(result)
    for kind, found in sorted(by_kind.items()):
        print(f"  {kind:<9} {len(found):>3} queries   {figures(found)}")
    if verbose:
        for result in results:
            judged = result.judgement
            print(f"  {result.ndcg:.2f} {result.reciprocal_rank:.2f}  {judged.kind:<8} {judged.role:<8}"
                  f" {judged.query!r} {dict(judged.filters) or ''} -> {result.ranked[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.environ.get("PORTAL_TEST_DATABASE_URL"),
                        help="a PostgreSQL URL (postgresql+psycopg://...): also measure that backend")
    parser.add_argument("--judgements", type=Path, default=JUDGEMENTS)
    parser.add_argument("--verbose", action="store_true")
    options = parser.parse_args()
    judgements = load_judgements(options.judgements)
    with demo_portal() as app:
        report("whoosh", measure(app, judgements), options.verbose)
    if options.database:
        with demo_portal(options.database, "postgres") as app:
            report("postgres", measure(app, judgements), options.verbose)


if __name__ == "__main__":
    main()
