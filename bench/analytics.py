"""Analytics on a seeded year of usage: the CRM import and the section 7 queries.

    python bench/analytics.py                                  # temporary SQLite database
    python bench/analytics.py --database postgresql+psycopg://postgres@127.0.0.1:5432/bench
    python bench/analytics.py --events 100000 --deals 1000     # smaller, quicker

Builds 2,000 items, 5,000 deals closed or open over a year with their stage histories (as a
Salesforce Opportunity export and an OpportunityHistory export, imported through
`deals import`), and 1,000,000 usage events written in bulk; then times
`effectiveness()` and `stage_conversion()` for the last 30 days and for the whole year
(the best of three runs each). Everything is seeded, so runs compare. The database named by
--database is emptied first: give it a scratch database. Figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import csv
import random
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
    Stage,
    UsageEvent,
)
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
KINDS = ["view"] * 6 + ["download", "copy", "search", "share", "used_in_deal"]


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
             "version": 1, "created_at": YEAR_START, "updated_at": YEAR_START}
            for n in range(items)])


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
    with engine.begin() as conn:
        batch = []
        for _ in range(events):
            batch.append({
                "kind": rnd.choice(KINDS), "item_id": rnd.randrange(1, items + 1),
                "item_slug": None, "role": "rep",
                "deal_id": rnd.choice(deal_ids) if rnd.random() < 0.3 else None,
                "occurred_at": YEAR_START + timedelta(seconds=rnd.randrange(seconds)),
                "details": {}})
            if len(batch) == 50_000:
                conn.execute(insert(UsageEvent), batch)
                batch = []
        if batch:
            conn.execute(insert(UsageEvent), batch)


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
    args = parser.parse_args()
    rnd = random.Random(20261129)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{folder}/bench.db"
        engine = make_engine(url)
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        sessions = make_session_factory(engine)
        seed_library(engine, args.items)
        opportunities, history = write_exports(Path(folder), args.deals, rnd)
        with sessions() as session:
            start = time.perf_counter()
            report = import_deals(session, opportunities, "salesforce", history=history)
            print(f"deals import: {report.line()} in {time.perf_counter() - start:.2f} s")
            start = time.perf_counter()
            report = import_deals(session, opportunities, "salesforce", history=history)
            print(f"deals import again: {report.line()} in {time.perf_counter() - start:.2f} s")
            deal_ids = list(session.scalars(select(Deal.id)))
        start = time.perf_counter()
        seed_events(engine, args.events, args.items, deal_ids, rnd)
        print(f"{args.events:,} usage events written in {time.perf_counter() - start:.0f} s")
        if not url.startswith("sqlite"):
            # PostgreSQL's autovacuum would vacuum and analyse the new rows within minutes
            # (index-only scans need the visibility map a vacuum sets). SQLite never
            # analyses by itself, so it runs as a fresh install would, without statistics.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        for label, days in (("last 30 days", 30), ("the year", 365)):
            when = Period(TODAY - timedelta(days=days - 1), TODAY)
            with sessions() as session:
                seconds, result = best_of_three(effectiveness, session, when)
                print(f"effectiveness, {label}: {seconds * 1000:.0f} ms "
                      f"(baseline n={result.baseline.deals}, {len(result.items)} items)")
                seconds, stages = best_of_three(stage_conversion, session, when)
                print(f"stage conversion, {label}: {seconds * 1000:.0f} ms "
                      f"({sum(s.entered for s in stages)} stage entries)")
        engine.dispose()


if __name__ == "__main__":
    main()
