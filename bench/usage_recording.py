"""What recording usage adds to a page: p95 of page requests with and without it, same run.

    python bench/usage_recording.py                  # SQLite (a temporary file)
    python bench/usage_recording.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test
                                                     # and PostgreSQL, in a scratch database
    python bench/usage_recording.py --requests 500   # quicker

Without --database, PORTAL_TEST_DATABASE_URL is used when set. A fresh portal with the demo
library (bench/relevance.py's `demo_portal`); the demo rep signed in through Flask's test
client. Each round asks for the same page twice, once recording and once with a recorder
that records nothing, alternating which goes first, so both see the same database, cache and
machine load. Pages: an item page opened from a stage page (a view with its stage context)
and from a search result (a view and a search_open), and a search page (a search event).
The recording itself is timed inside those requests too: wall clock, and the CPU time of
the thread (on a machine shared with other work, the wall clock's p95 is mostly waiting for
a core). Figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from relevance import demo_portal  # noqa: E402

from content_library.services import usage  # noqa: E402

PAGES = {
    "item page, from a stage": "/content/{slug}?stage={stage}",
    "item page, from a search": "/content/{slug}?from=search&pos=3&q=roi",
    "search page": "/search?q=roi",
}


class NotRecording(usage.Recorder):
    def record(self, *events) -> bool:
        return True


class TimedRecorder(usage.Recorder):
    """The real recorder, timing each call: wall clock, and this thread's CPU time (what the
    recording itself costs, without the waits of a machine shared with other work)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def record(self, *events) -> bool:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return super().record(*events)
        finally:
            self.cpu.append(time.thread_time() - cpu)
            self.wall.append(time.perf_counter() - wall)


def p50(times: list[float]) -> float:
    return statistics.median(times) * 1000


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[18] * 1000


def signed_in(app):
    from content_library.services.demo import DEMO_USERS

    rep = next(u for u in DEMO_USERS if u.role == "rep")
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    answer = client.post("/login", data={"email": rep.email, "password": rep.password,
                                         "csrf_token": token})
    assert answer.status_code == 302, "the demo rep could not sign in"
    return client


def an_item_at_a_stage(app) -> tuple[str, str]:
    from sqlalchemy import select

    from content_library.models import ContentItem
    from portal.extensions import db

    with app.app_context():
        item = db.session.scalars(select(ContentItem).where(
            ContentItem.status == "published", ContentItem.stages.any())).first()
        return item.slug, item.stages[0].slug


def measure(app, requests: int) -> list[tuple]:
    client = signed_in(app)
    slug, stage = an_item_at_a_stage(app)
    database, days = app.config["DATABASE_URL"], app.config["USAGE_RETENTION_DAYS"]
    idle = NotRecording(database, days)
    rows = []
    for name, pattern in PAGES.items():
        url = pattern.format(slug=slug, stage=stage)
        real = TimedRecorder(database, days)
        timed = {True: [], False: []}
        for round_ in range(requests + 20):
            for recording in ((True, False) if round_ % 2 else (False, True)):
                app.extensions["usage"] = real if recording else idle
                start = time.perf_counter()
                answer = client.get(url)
                elapsed = time.perf_counter() - start
                assert answer.status_code == 200, (url, answer.status_code)
                if round_ >= 20:  # the first rounds warm caches up
                    timed[recording].append(elapsed)
        rows.append((name, p50(timed[False]), p95(timed[False]), p50(timed[True]), p95(timed[True]),
                     p50(real.wall[20:]), p95(real.wall[20:]), p95(real.cpu[20:])))
    return rows


def round_trip(database: str, requests: int) -> tuple[float, float]:
    """A bare `SELECT 1` on the recorder's kind of connection: the floor any write is above."""
    from sqlalchemy import text

    engine = usage.recording_engine(database)
    times = []
    with engine.connect() as connection:
        for _ in range(requests):
            start = time.perf_counter()
            connection.execute(text("SELECT 1")).scalar()
            times.append(time.perf_counter() - start)
    engine.dispose()
    return p50(times), p95(times)


def report(database: str, rows, floor: tuple[float, float]) -> None:
    print(f"\n{database} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores): ms")
    print(f"  {'page':<26} {'page p50/p95 without':>21} {'with':>15} {'p95 ratio':>9} "
          f"{'recording p50/p95':>18} {'its CPU p95':>11}")
    for name, p50_off, p95_off, p50_on, p95_on, rec50, rec95, cpu95 in rows:
        print(f"  {name:<26} {p50_off:10.2f} / {p95_off:6.2f} {p50_on:6.2f} / {p95_on:6.2f} "
              f"{p95_on / p95_off:9.2f} {rec50:9.2f} / {rec95:6.2f} {cpu95:11.2f}")
    print(f"  a bare SELECT 1 on the same kind of connection: p50 {floor[0]:.2f} / p95 {floor[1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.environ.get("PORTAL_TEST_DATABASE_URL"),
                        help="a PostgreSQL URL (postgresql+psycopg://...): also measure there")
    parser.add_argument("--requests", type=int, default=1000, help="requests per page and variant")
    options = parser.parse_args()
    for database in [None, options.database] if options.database else [None]:
        with demo_portal(database) as app:
            rows = measure(app, options.requests)
            floor = round_trip(app.config["DATABASE_URL"], options.requests)
            report("PostgreSQL" if database else "SQLite", rows, floor)


if __name__ == "__main__":
    main()
