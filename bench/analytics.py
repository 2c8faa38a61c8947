"""Analytics on a seeded year of usage: the CRM import, the analytics queries and pages.

    python bench/analytics.py                                  # temporary SQLite database
    python bench/analytics.py --database postgresql+psycopg://postgres@127.0.0.1:5432/bench
    python bench/analytics.py --events 100000 --deals 1000     # smaller, quicker

Builds 2,000 items, 5,000 deals closed or open over a year with their stage histories (as a
Salesforce Opportunity export and an OpportunityHistory export, imported through
`deals import`), 1,000,000 usage events written in bulk (plus 10,000 more on one item,
`item-0`), and 100,000 logged searches; then times each analytics query
(`effectiveness()`, `stage_conversion()`, usage per item, unused and stale items, the
findability backlog, content health, one item's use) for the last 30 days and for the whole
year, and each analytics page and API answer through the app as a signed-in manager (the best
of three runs each). Everything is seeded, so runs compare. The database named by --database
is emptied first: give it a scratch database. Figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select  # noqa: E402

from content_library.database import make_engine, make_session_factory  # noqa: E402
from content_library.models import (  # noqa: E402
    Base,
    ContentItem,
    ContentType,
    Deal,
    SearchLog,
    Stage,
    UsageEvent,
    User,
)
from content_library.services import content_use  # noqa: E402
from content_library.services.deals_import import import_deals  # noqa: E402
from content_library.services.effectiveness import (  # noqa: E402
    Period,
    effectiveness,
    stage_conversion,
)

STAGES = ["Understanding offerings", "Building a business case", "Running an evaluation",
          "Comparing shortlisted vendors", "Negotiating", "Confirming deployment",
          "Redlining documents"]
YEAR_START = datetime(2025, 12, 1)
TODAY = date(2026, 11, 30)
# Reps mostly look; a share, a download or a use in a deal is what links an item to a deal.
KINDS = ["view"] * 6 + ["download", "copy", "share", "share_open", "used_in_deal"]
STAGE_SLUGS = [name.lower().replace(" ", "-") for name in STAGES]
OWNERS = [f"owner{n}@example.com" for n in range(20)]
PASSWORD = "Bench-manager-2026-x"
REPS = 200


def seed_library(engine, items: int) -> None:
    with engine.begin() as conn:
        conn.execute(insert(ContentType), [{"slug": "case-study", "name": "Case study",
                                            "description": "", "position": 0}])
        conn.execute(insert(Stage), [
            {"slug": name.lower().replace(" ", "-"), "name": name, "description": "",
             "position": i, "phase": "conversations", "buyer_goal": "", "exit_criteria": []}
            for i, name in enumerate(STAGES)])
        conn.execute(insert(ContentItem), [
            {"slug": f"item-{n}", "title": f"Item {n}", "summary": "", "type_id": 1,
             "audience": "external", "status": "published", "body": "", "argument": {},
             "version": 1, "created_at": YEAR_START, "updated_at": YEAR_START,
             "owner_email": OWNERS[n % len(OWNERS)],
             "review_by": TODAY + timedelta(days=(n * 37) % 400 - 100)}
            for n in range(items)])
        conn.execute(insert(User), [
            {"email": f"rep{n}@example.com", "name": f"Rep {n}", "role": "rep",
             "password_hash": "!", "company": ""} for n in range(REPS)])


def write_exports(folder: Path, deals: int, rnd: random.Random) -> tuple[Path, Path]:
    opportunities, history = folder / "opportunities.csv", folder / "history.csv"
    with opportunities.open("w", newline="") as deal_file, history.open("w", newline="") as hist:
        deal_rows, hist_rows = csv.writer(deal_file), csv.writer(hist)
        deal_rows.writerow(["Id", "Name", "Account Name", "StageName", "Amount", "CloseDate",
                            "IsClosed", "IsWon", "ForecastCategoryName", "Loss_Reason__c"])
        hist_rows.writerow(["OpportunityId", "StageName", "CreatedDate"])
        for n in range(deals):
            crm_id = f"006BENCH{n:07d}AAA"
            moment = YEAR_START + timedelta(days=rnd.randrange(330), hours=rnd.randrange(24))
            reached = STAGES[:rnd.randrange(1, len(STAGES) + 1)]
            for stage in reached:
                hist_rows.writerow([crm_id, stage, moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")])
                moment += timedelta(days=rnd.randrange(1, 20), hours=rnd.randrange(24))
            closed = moment.date() <= TODAY and rnd.random() < 0.8
            won = closed and rnd.random() < 0.3 + 0.08 * len(reached)
            reason = "" if won or not closed else rnd.choice(["Price", "Competitor", "No decision"])
            stage = ("Closed Won" if won else "Closed Lost") if closed else reached[-1]
            if closed:
                hist_rows.writerow([crm_id, stage, moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")])
            deal_rows.writerow([crm_id, f"Deal {n}", f"Account {n % 700}", stage,
                                f"{rnd.randrange(5, 500) * 1000}.00", moment.date().isoformat(),
                                str(closed).lower(), str(won).lower(), "Pipeline", reason])
    return opportunities, history


def seed_events(engine, events: int, items: int, deal_ids: list[int], rnd: random.Random) -> None:
    seconds = 365 * 86400

    def event(item_id: int) -> dict:
        # Half the items are used a lot, a tenth hardly at all: the unused list is not empty.
        return {"kind": rnd.choice(KINDS), "item_id": item_id, "item_slug": f"item-{item_id - 1}",
                "role": "rep", "user_id": rnd.randrange(1, REPS + 1), "stage": rnd.choice(STAGE_SLUGS),
                "deal_id": rnd.choice(deal_ids) if rnd.random() < 0.3 else None,
                "occurred_at": YEAR_START + timedelta(seconds=rnd.randrange(seconds)),
                "details": {}}

    busy = max(1, items * 9 // 10)
    with engine.begin() as conn:
        batch = []
        for n in range(events):
            # One item (item-0) gets 10,000 events of its own after the others.
            batch.append(event(1) if n >= events - 10_000 else event(rnd.randrange(2, busy + 1)))
            if len(batch) == 50_000:
                conn.execute(insert(UsageEvent), batch)
                batch = []
        if batch:
            conn.execute(insert(UsageEvent), batch)


def seed_searches(engine, searches: int, rnd: random.Random) -> None:
    words = [f"topic{n}" for n in range(3000)]
    seconds = 365 * 86400
    with engine.begin() as conn:
        rows, opens = [], []
        for _ in range(searches):
            query = words[min(int(rnd.paretovariate(1.2)) - 1, len(words) - 1)] \
                if rnd.random() < 0.7 else rnd.choice(words)
            at = YEAR_START + timedelta(seconds=rnd.randrange(seconds))
            results = 0 if rnd.random() < 0.2 else rnd.randrange(1, 40)
            rows.append({"query": query, "results": results, "role": "rep", "at": at})
            if results and rnd.random() < 0.5:
                opens.append({"kind": "search_open", "item_id": None, "item_slug": None,
                              "role": "rep", "occurred_at": at,
                              "details": {"query": query, "position": 1}})
        conn.execute(insert(SearchLog), rows)
        conn.execute(insert(UsageEvent), opens)


def best_of_three(task, *args) -> tuple[float, object]:
    times, result = [], None
    for _ in range(3):
        start = time.perf_counter()
        result = task(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a scratch database URL (default: temporary SQLite)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=5_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--again", action="store_true",
                        help="time again on the --database a previous run filled, without seeding")
    args = parser.parse_args()
    rnd = random.Random(20261129)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{folder}/bench.db"
        engine = make_engine(url)
        if args.again and args.database:
            time_queries(make_session_factory(engine))
            time_pages(url, Path(folder))
            return
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        sessions = make_session_factory(engine)
        seed_library(engine, args.items)
        opportunities, history = write_exports(Path(folder), args.deals, rnd)
        with sessions() as session:
            start = time.perf_counter()
            imported = import_deals(session, opportunities, "salesforce", history=history)
            print(f"deals import: {imported.line()} in {time.perf_counter() - start:.2f} s")
            start = time.perf_counter()
            imported = import_deals(session, opportunities, "salesforce", history=history)
            print(f"deals import again: {imported.line()} in {time.perf_counter() - start:.2f} s")
            deal_ids = list(session.scalars(select(Deal.id)))
        start = time.perf_counter()
        seed_events(engine, args.events, args.items, deal_ids, rnd)
        print(f"{args.events:,} usage events written in {time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        seed_searches(engine, 100_000, rnd)
        print(f"100,000 searches logged in {time.perf_counter() - start:.0f} s")
        if not url.startswith("sqlite"):
            # PostgreSQL's autovacuum would vacuum and analyse the new rows within minutes
            # (index-only scans need the visibility map a vacuum sets). SQLite never
            # analyses by itself, so it runs as a fresh install would, without statistics.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        time_queries(sessions)
        time_pages(url, Path(folder))
        engine.dispose()


def report(label: str, task, *args) -> object:
    seconds, result = best_of_three(task, *args)
    print(f"  {label}: {seconds * 1000:.0f} ms")
    return result


def time_queries(sessions) -> None:
    today = TODAY
    for label, days in (("last 30 days", 30), ("the year", 365)):
        when = Period(TODAY - timedelta(days=days - 1), TODAY)
        print(f"queries, {label}:")
        with sessions() as session:
            result = report("effectiveness", effectiveness, session, when)
            print(f"    (baseline n={result.baseline.deals}, {len(result.items)} items)")
            stages = report("stage conversion", stage_conversion, session, when)
            print(f"    ({sum(s.entered for s in stages)} stage entries)")
            report("usage per item", content_use.item_usage, session, when, today)
            report("usage per item at one stage, one owner", content_use.item_usage, session,
                   when, today, content_use.UsageFilter(stage=STAGE_SLUGS[2], owner=OWNERS[3]))
            report("findability backlog", content_use.search_backlog, session, when)
    print("queries, no period:")
    with sessions() as session:
        unused = report("unused 90 days", content_use.unused_items, session, today, 90)
        print(f"    ({len(unused)} items)")
        report("past review", content_use.stale_items, session, today)
        report("content health", content_use.health_scores, session, today)
        item_id = session.scalar(select(ContentItem.id).where(ContentItem.slug == "item-0"))
        report("item-0's use by month (10,000+ events)", content_use.use_by_month, session,
               item_id, today)
        report("item-0's deals", content_use.deals_used_in, session, item_id)


def time_pages(url: str, folder: Path) -> None:
    """Each page as a manager sees it, through the app: query, template and all."""
    from content_library.services.users import NewUser, create_user
    from portal import create_app
    from portal.extensions import db

    app = create_app({"DATABASE_URL": url, "INDEX_DIR": str(folder / "index"),
                      "UPLOAD_DIR": str(folder / "files"), "SECRET_KEY": "bench-" + "k" * 40})
    with app.app_context():
        if db.session.scalar(select(User.id).where(User.email == "manager@example.com")) is None:
            create_user(db.session, NewUser("manager@example.com", "Bench", "manager", PASSWORD))
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"email": "manager@example.com", "password": PASSWORD,
                                "csrf_token": token})
    year = f"from={(TODAY - timedelta(days=364)).isoformat()}&to={TODAY.isoformat()}"
    month = f"from={(TODAY - timedelta(days=29)).isoformat()}&to={TODAY.isoformat()}"
    print("pages and API answers (a manager, through the app):")
    for path in (f"/analytics/usage?{month}", f"/analytics/usage?{year}",
                 f"/analytics/usage?{year}&sort=last_used&dir=asc",
                 f"/analytics/usage?{year}&format=csv", "/analytics/idle",
                 f"/analytics/searches?{year}", f"/analytics/stages?{year}",
                 f"/analytics/effectiveness?{year}", "/library?sort=health",
                 "/content/item-0", f"/api/v1/analytics/content?{year}",
                 f"/api/v1/analytics/effectiveness?{year}", f"/api/v1/analytics/stages?{year}",
                 f"/api/v1/analytics/searches?{year}"):
        def get(path=path):
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
            return answer
        report(path, get)


if __name__ == "__main__":
    main()
