"""The monthly review on a seeded year of usage: `report monthly`, HTML and CSV, timed.

    python bench/monthly_review.py                                  # temporary SQLite
    python bench/monthly_review.py --database postgresql+psycopg://postgres@127.0.0.1:5432/bench
    python bench/monthly_review.py --events 100000 --deals 1000     # smaller, quicker

Reuses bench/analytics.py's generator (2,000 items, 5,000 deals imported through `deals
import`, 1,000,000 usage events over a year), then gives what the review reads and that
generator leaves out: each item one or two stages, an owner and a review date; each event
a stage context (one in eight none); 60,000 searches (a quarter with no results) and the
opens of half of the others; 600 content requests; a few action items. Then it times
`report monthly --month 2026-11` through the real command, to an HTML file and to a CSV
file, best of three. The database named by --database is emptied first. Figures in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analytics import (  # noqa: E402 (also puts the project on the path)
    STAGES,
    TODAY,
    YEAR_START,
    best_of_three,
    seed_events,
    seed_library,
    write_exports,
)
from sqlalchemy import case, insert, select, update  # noqa: E402

from content_library.models import (  # noqa: E402
    ActionItem,
    Base,
    ContentItem,
    ContentRequest,
    Deal,
    SearchLog,
    UsageEvent,
    item_stages,
)
from content_library.services.deals_import import import_deals  # noqa: E402

MONTH = "2026-11"


def seed_review_extras(engine, items: int, searches: int, rnd: random.Random) -> None:
    """What the review reads beyond the analytics bench's items, deals and events."""
    slugs = [name.lower().replace(" ", "-") for name in STAGES]
    seconds = 365 * 86400
    with engine.begin() as conn:
        conn.execute(insert(item_stages), [
            {"item_id": n, "stage_id": stage}
            for n in range(1, items + 1)
            for stage in rnd.sample(range(1, len(STAGES) + 1), rnd.choice((1, 1, 2)))])
        owners = [f"owner{n}@example.com" for n in range(40)]
        for n in range(1, items + 1):
            conn.execute(update(ContentItem).where(ContentItem.id == n).values(
                owner_email=rnd.choice(owners),
                review_by=TODAY + timedelta(days=rnd.randrange(-200, 400))))
        # One event in eight happened outside any stage page.
        conn.execute(update(UsageEvent).values(stage=case(
            *((UsageEvent.id % 8 == i, slug) for i, slug in enumerate(slugs)), else_=None)))
        words = [f"topic {n}" for n in range(2_000)]
        log, opens = [], []
        for _ in range(searches):
            at = YEAR_START + timedelta(seconds=rnd.randrange(seconds))
            query = rnd.choice(words)
            results = 0 if rnd.random() < 0.25 else rnd.randrange(1, 40)
            log.append({"query": query, "results": results, "role": "rep", "at": at})
            if results and rnd.random() < 0.5:
                opens.append({"kind": "search_open", "item_id": rnd.randrange(1, items + 1),
                              "role": "rep", "occurred_at": at + timedelta(seconds=20),
                              "details": {"query": query, "position": rnd.randrange(1, 6)}})
        conn.execute(insert(SearchLog), log)
        conn.execute(insert(UsageEvent), opens)
        requests = []
        for _ in range(600):
            created = YEAR_START + timedelta(seconds=rnd.randrange(seconds))
            status = rnd.choice(("open", "accepted", "declined", "completed", "completed"))
            decided = None if status == "open" else created + timedelta(days=rnd.randrange(1, 60))
            requests.append({"query": rnd.choice(words), "filters": {}, "message": "",
                             "status": status, "decided_at": decided, "note": "",
                             "created_at": created})
        conn.execute(insert(ContentRequest), requests)
        conn.execute(insert(ActionItem), [
            {"month": f"2026-{m:02d}", "text": f"Action {m}-{n}", "owner": "Anna",
             "due": date(2026, m, 28), "status": rnd.choice(("open", "done")),
             "created_at": YEAR_START, "updated_at": YEAR_START}
            for m in range(1, 12) for n in range(3)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a scratch database URL (default: temporary SQLite)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=5_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--searches", type=int, default=60_000)
    args = parser.parse_args()
    rnd = random.Random(20261129)

    from portal import create_app
    from portal.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{folder}/bench.db"
        app = create_app({"SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": url,
                          "INDEX_DIR": f"{folder}/index", "UPLOAD_DIR": f"{folder}/files"})
        with app.app_context():
            engine = db.engine
            Base.metadata.drop_all(engine)
            Base.metadata.create_all(engine)
            seed_library(engine, args.items)
            opportunities, history = write_exports(Path(folder), args.deals, rnd)
            import_deals(db.session, opportunities, "salesforce", history=history)
            deal_ids = list(db.session.scalars(select(Deal.id)))
            db.session.close()
            start = time.perf_counter()
            seed_events(engine, args.events, args.items, deal_ids, rnd)
            seed_review_extras(engine, args.items, args.searches, rnd)
            print(f"{args.events:,} usage events and the review's extras written in "
                  f"{time.perf_counter() - start:.0f} s")
            if not url.startswith("sqlite"):
                # As autovacuum would within minutes (see bench/analytics.py).
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM ANALYZE")
        runner = app.test_cli_runner()
        for suffix in ("html", "csv"):
            out = Path(folder) / f"review.{suffix}"

            def report(out=out):
                result = runner.invoke(args=["report", "monthly", "--month", MONTH,
                                             "--out", str(out)])
                if result.exit_code:
                    raise SystemExit(result.output)

            seconds, _ = best_of_three(report)
            print(f"report monthly --month {MONTH} --out review.{suffix}: {seconds:.2f} s "
                  f"({out.stat().st_size:,} bytes)")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
