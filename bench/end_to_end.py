"""The portal end to end: importing a large exchange file, one-item edits, and search
latency through the service layer and through the HTTP API on loopback.

    python bench/end_to_end.py                 # 10,000 items
    python bench/end_to_end.py --items 2000    # quicker

Prints the import rate (items per second, indexing included, and how much of the time
went to writing the index), how long a one-item edit takes to become searchable, and
p50/p95/p99 for free-text, filtered, phrase and browse queries, for a rep, through
`portal.search.service.search` (a new process's first searches, then new searches after a
one-item edit) and through `GET /api/v1/search` over HTTP on 127.0.0.1.
Seeded, so runs compare. See docs/performance.md for figures and targets.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

from content_library.models import Base, ContentItem, User  # noqa: E402
from content_library.services import items as item_service  # noqa: E402
from content_library.services.exchange import import_library  # noqa: E402
from content_library.services.users import NewUser, create_user, issue_token  # noqa: E402
from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.indexing import backend  # noqa: E402
from portal.search import service  # noqa: E402

STAGES = [f"stage-{n}" for n in range(8)]
STAKEHOLDERS = [f"role-{n}" for n in range(6)]
SOLUTIONS = [f"solution-{n}" for n in range(3)]
VERTICALS = [f"vertical-{n}" for n in range(5)]
TYPES = [f"type-{n}" for n in range(12)]


def vocabulary(rng: random.Random, size: int = 15_000) -> list[str]:
    syllables = [a + b for a in "bcdfgklmnprstvz" for b in ("a", "e", "i", "o", "u", "ar", "en")]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choices(syllables, k=rng.choice((2, 2, 3)))))
    return sorted(words)


def exchange_file(folder: Path, count: int, seed: int) -> tuple[Path, list[str]]:
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf-like

    def text(n: int) -> str:
        return " ".join(rng.choices(words, weights=weights, k=n))

    taxonomy = {
        "stages": [{"slug": s, "name": s.title(), "phase": "conversations"} for s in STAGES],
        "stakeholders": [{"slug": s, "name": s.title()} for s in STAKEHOLDERS],
        "solutions": [{"slug": s, "name": s.title()} for s in SOLUTIONS],
        "verticals": [{"slug": s, "name": s.title()} for s in VERTICALS],
        "content_types": [{"slug": s, "name": s.title()} for s in TYPES],
    }
    items = []
    for n in range(count):
        items.append({
            "slug": f"item-{n:06d}", "title": text(6).capitalize(), "summary": text(25),
            "type": rng.choice(TYPES),
            "audience": "internal" if rng.random() < 0.3 else "external",
            "status": "published" if rng.random() < 0.85 else "draft",
            "stages": sorted(rng.sample(STAGES, rng.choice((1, 1, 2)))),
            "stakeholders": sorted(rng.sample(STAKEHOLDERS, rng.choice((0, 1, 1, 2)))),
            "solutions": sorted(rng.sample(SOLUTIONS, rng.choice((0, 1)))),
            "verticals": sorted(rng.sample(VERTICALS, rng.choice((0, 0, 1)))),
            "body": text(220),
        })
    path = folder / "library.json"
    path.write_text(json.dumps({"taxonomy": taxonomy, "items": items}))
    return path, words[:400]


def time_index_writes(search_backend) -> list:
    """Count the seconds and calls the backend spends in index_items from now on:
    [seconds, calls]. The drain after each commit calls it in batches of 1,000."""
    spent = [0.0, 0]
    index_items = search_backend.index_items

    def timed(items):
        started = time.perf_counter()
        try:
            return index_items(items)
        finally:
            spent[0] += time.perf_counter() - started
            spent[1] += 1

    search_backend.index_items = timed
    return spent


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(0.50):7.1f} ms  p95 {pick(0.95):7.1f} ms  p99 {pick(0.99):7.1f} ms"


def queries(rng: random.Random, common: list[str], count: int) -> dict[str, list[dict]]:
    return {
        "free text": [{"q": " ".join(rng.sample(common, 2))} for _ in range(count)],
        "filtered": [{"q": rng.choice(common), "stage": rng.choice(STAGES),
                      "vertical": rng.sample(VERTICALS, 2)} for _ in range(count)],
        "phrase": [{"q": f'"{rng.choice(common)} {rng.choice(common)}"'} for _ in range(count)],
        "browse + facets": [{"stakeholder": rng.choice(STAKEHOLDERS)} for _ in range(count)],
    }


def edit(rep: User, number: int, marker: str) -> None:
    """Add ``marker`` to one item's summary and search for it: an edit until searchable."""
    item = item_service.get_item(db.session, f"item-{number:06d}")
    data = item_service.input_from_snapshot(item_service.snapshot(item))
    data = item_service.ItemInput(**{**data.__dict__, "status": "published",
                                     "summary": f"{data.summary} {marker}"})
    item_service.save_item(db.session, data, None, existing=item)
    found = service.search(db.session, backend(), rep, marker, {}, log=False).total
    assert found == 1, f"the edit of item {number} is not searchable"


def time_searches(plan: dict[str, list[dict]], rep: User) -> None:
    for kind, asks in plan.items():
        samples = []
        for ask in asks:
            filters = {f: tuple(v) if isinstance(v, list) else (v,) for f, v in ask.items() if f != "q"}
            started = time.perf_counter()
            service.search(db.session, backend(), rep, ask.get("q", ""), filters, log=False)
            samples.append(time.perf_counter() - started)
        print(f"  {kind:16} {percentiles(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--dir", type=Path,
                        help="folder to keep the database, index and files in; when it already "
                             "holds an imported library, the import is skipped and re-timed "
                             "searches run on it (default: a new temporary folder)")
    parser.add_argument("--database", help="database URL instead of SQLite in the folder, e.g. "
                                           "postgresql+psycopg://postgres@127.0.0.1/bench")
    parser.add_argument("--search-backend", default="whoosh", choices=("whoosh", "postgres"))
    parser.add_argument("--skip-http", action="store_true", help="service layer only")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="portal-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    app = create_app({"DATABASE_URL": args.database or f"sqlite:///{folder / 'portal.db'}",
                      "SEARCH_BACKEND": args.search_backend,
                      "INDEX_DIR": str(folder / "index"), "UPLOAD_DIR": str(folder / "files"),
                      "SECRET_KEY": "bench-" + "k" * 40})
    path, common = exchange_file(folder, args.items, args.seed)
    print(f"portal bench: {args.items:,} items, {args.queries} queries per kind, in {folder}")

    with app.app_context():
        Base.metadata.create_all(db.engine)
        reused = db.session.scalar(select(func.count(ContentItem.id))) >= args.items
        if reused:
            print("import skipped: the folder's database already holds the library")
            token = issue_token(db.session, "bench@example.com")
        else:
            writing = time_index_writes(backend())
            started = time.perf_counter()
            report = import_library(db.session, path, folder / "files")
            elapsed = time.perf_counter() - started
            print(f"import with indexing: {report.created:,} items in {elapsed:.1f} s = "
                  f"{report.created / elapsed:,.0f} items/s "
                  f"(writing the index: {writing[0]:.1f} s in {writing[1]} batches)")
            create_user(db.session, NewUser("bench@example.com", "Bench", "rep", "Bench-rep-2026-x"))
            token = issue_token(db.session, "bench@example.com")
        rep = db.session.scalar(select(User).where(User.email == "bench@example.com"))
        if db.engine.dialect.name == "postgresql":
            # what autovacuum would have done after the import (a server may run without it:
            # then the planner has no statistics, and the re-check reads every published id)
            db.session.execute(text("ANALYZE"))
            db.session.commit()

        edits = []
        for n in range(0 if reused else 20):
            started = time.perf_counter()
            edit(rep, n, f"zqx{n}marker")
            edits.append(time.perf_counter() - started)
        if edits:
            print(f"one-item edit until searchable: {percentiles(edits)}  "
                  f"(first: {edits[0] * 1000:.0f} ms)")

        rng = random.Random(args.seed)
        plan = queries(rng, common, args.queries)
        print("\nthrough the service layer (rep):")
        time_searches(plan, rep)
        # A server answers most searches long after its first ones, between edits: new
        # searches of the same kinds (other words of the same vocabulary) after an edit.
        edit(rep, args.items - 1, "zqxagainmarker")
        print("\nagain, new searches after a one-item edit (the process past its first searches):")
        time_searches(queries(random.Random(args.seed + 1), common, args.queries), rep)

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    if args.skip_http:
        return
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port)
    headers = {"Authorization": f"Bearer {token}"}
    print("\nthrough GET /api/v1/search over HTTP on loopback (rep):")
    for kind, asks in plan.items():
        samples = []
        for ask in asks:
            started = time.perf_counter()
            connection.request("GET", "/api/v1/search?" + urlencode(ask, doseq=True), headers=headers)
            response = connection.getresponse()
            response.read()
            samples.append(time.perf_counter() - started)
            assert response.status == 200, response.status
        print(f"  {kind:16} {percentiles(samples)}")
    server.shutdown()
    if edits:
        print(f"\n(median of {len(edits)} edits: {statistics.median(edits) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
