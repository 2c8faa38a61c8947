"""The portal under load: gunicorn on loopback, Locust's headless mode, a mixed workload.

    pip install -e '.[bench]'                       # Locust (the `bench` extra)
    python bench/load.py                            # SQLite + Whoosh, 2 then 4 workers, 30 s each
    python bench/load.py --database postgresql+psycopg://postgres@127.0.0.1:5432/bench_load \\
                         --search-backend postgres  # PostgreSQL (that database is emptied first)
    python bench/load.py --again                    # reuse the library seeded by the last run
    python bench/load.py --workers 2 --seconds 60 --users 32

A scratch portal (--folder, a SQLite file there unless --database) with the demo library
(`portal setup`) plus 10,000 synthetic items (bench/end_to_end.py's generator), seeded once.
For each worker count: first the ceiling, a bare Flask app serving a fixed 5 KB page
(bench/ceiling_app.py) under the same gunicorn settings (deploy/gunicorn.conf.py), then the
portal, both driven by the same Locust users for the same time (bench/locustfile.py): 60%
search and stage pages, 25% item pages, 10% usage writes (POST /api/v1/usage), 5% edits
through the item form (as the demo manager; each user edits items of its own). Before each
portal run, `portal setup`, as a deployment does. Prints requests per second, p50/p95/p99,
errors, per page the client's times and the worker's own (from the portal's request log), and
afterwards whether every write the portal acknowledged is in the database and whether
the index agrees with it (`portal index check`). The machine's load average is printed before
and after: on a shared machine compare the portal with the ceiling measured in the same
minutes. Figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from end_to_end import exchange_file, vocabulary  # noqa: E402
from load_forms import EDIT_NOTE  # noqa: E402

BIN = Path(sys.executable).parent
DEMO_WORDS = ["roi", "security", "pricing", "case study", "onboarding", "cfo", "integration",
              "competitor", "compliance", "migration", "tco", "healthcare"]
REP, MANAGER = "ryan.rep@demo.example", "maria.marketing@demo.example"
PASSWORDS = {REP: "Rep-demo-2026", MANAGER: "Manager-demo-2026"}
API_USER = "load.api@demo.example"
PORT = 5281


def settings(args) -> dict[str, str]:
    """The portal's PORTAL_* settings for the scratch instance, production mode."""
    folder = Path(args.folder)
    return {"PORTAL_DATABASE_URL": args.database or f"sqlite:///{folder / 'portal.db'}",
            "PORTAL_INDEX_DIR": str(folder / "index"), "PORTAL_UPLOAD_DIR": str(folder / "files"),
            "PORTAL_SEARCH_BACKEND": args.search_backend, "PORTAL_ENV": "production",
            "PORTAL_SECRET_KEY": args.secret, "PORTAL_LOG_FORMAT": "json"}


def empty_postgres(url: str) -> None:
    """Drop and make again the database of ``url`` on its server."""
    import psycopg

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    name = parts.path.lstrip("/")
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
    for maintenance in ("postgres", "test"):
        try:
            connection = psycopg.connect(urlunsplit(parts._replace(path="/" + maintenance)),
                                         autocommit=True)
            break
        except psycopg.OperationalError:
            continue
    else:
        raise SystemExit(f"cannot reach the PostgreSQL server of {url}")
    with connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")


def seed(args, env: dict[str, str]) -> None:
    """The demo library (`portal setup`), then the synthetic items, indexed as imported."""
    folder = Path(args.folder)
    if args.database:
        empty_postgres(args.database)
    else:
        (folder / "portal.db").unlink(missing_ok=True)
    for leftover in ("index", "files"):
        subprocess.run(["rm", "-rf", str(folder / leftover)], check=True)
    started = time.perf_counter()
    subprocess.run([str(BIN / "portal"), "setup"], env=env, check=True, stdout=subprocess.DEVNULL)
    from content_library.services.exchange import import_library
    from content_library.services.users import NewUser, create_user
    from portal import create_app
    from portal.extensions import db

    app = create_app({key.removeprefix("PORTAL_"): value for key, value in env.items()
                      if key.startswith("PORTAL_")})
    with app.app_context():
        path, _ = exchange_file(folder, args.items, args.seed)
        report = import_library(db.session, path, folder / "files")
        create_user(db.session, NewUser(API_USER, "Load Bench", "rep", "Load-bench-2026-x"))
        db.session.close()
        db.engine.dispose()
    app.extensions["usage"].engine.dispose()
    print(f"seeded: demo + {report.created:,} synthetic items in {time.perf_counter() - started:.0f} s")


def portal_command(env: dict[str, str], *words: str) -> str:
    done = subprocess.run([str(BIN / "portal"), *words], env=env, check=True, capture_output=True,
                          text=True)
    return done.stdout.strip()


def sql(env: dict[str, str], query: str, **values):
    """One value read straight from the database (after the server stopped)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env["PORTAL_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return connection.execute(text(query), values).scalar()
    finally:
        engine.dispose()


def plan(args, env: dict[str, str]) -> dict:
    """What the Locust users ask for: stage slugs, published item slugs, search words, and each
    user's own items to edit."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env["PORTAL_DATABASE_URL"])
    with engine.connect() as connection:
        stages = connection.execute(text("SELECT slug FROM stages ORDER BY slug")).scalars().all()
        published = connection.execute(text(
            "SELECT slug FROM content_items WHERE status = 'published' ORDER BY slug")).scalars().all()
    engine.dispose()
    rng = random.Random(args.seed)
    synthetic = [slug for slug in published if slug.startswith("item-")]
    common = vocabulary(random.Random(args.seed))[:400]  # the words exchange_file favours
    if args.stage_pages == "demo":  # the synthetic stages hold some 1,700 items each
        stages = [slug for slug in stages if not slug.startswith("stage-")]
    return {"stages": stages, "items": rng.sample(published, min(3000, len(published))),
            "words": DEMO_WORDS + rng.sample(common, 200),
            "edit_groups": 64, "edit_slugs": rng.sample(synthetic, min(64 * 20, len(synthetic)))}


def sign_in(port: int, email: str) -> str:
    """The session cookie of a user signed in through the log-in form."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(), NoRedirects())
    with opener.open(f"http://127.0.0.1:{port}/login") as page:
        html = page.read().decode()
        cookie = page.headers["Set-Cookie"].split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    form = urlencode({"csrf_token": token, "email": email, "password": PASSWORDS[email],
                      "next": ""}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/login", data=form,
                                     headers={"Cookie": cookie})
    try:
        opener.open(request)
    except urllib.error.HTTPError as answer:
        if answer.code not in (302, 303):
            raise SystemExit(f"signing in {email} failed: {answer.code}") from None
        cookie = answer.headers["Set-Cookie"].split(";")[0]
    else:
        raise SystemExit(f"signing in {email} did not redirect")
    # Signing in starts a new session; its CSRF secret comes with the first page that has a
    # form (the header's sign-out button). The users send this cookie, never a newer one.
    try:
        with opener.open(urllib.request.Request(f"http://127.0.0.1:{port}/",
                                                headers={"Cookie": cookie})) as page:
            fresh = page.headers["Set-Cookie"]
    except urllib.error.HTTPError as answer:
        fresh = answer.headers["Set-Cookie"]
    return fresh.split(";")[0] if fresh else cookie


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Server:
    """gunicorn with deploy/gunicorn.conf.py serving ``app`` (the portal's wsgi:app, or the
    ceiling) with ``workers`` workers on 127.0.0.1:PORT."""

    def __init__(self, env: dict[str, str], workers: int, log: Path, app: str = "wsgi:app") -> None:
        self.log = log
        command = [str(BIN / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                   "--pythonpath", str(ROOT / "bench"), app]
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=output,
                env={**env, "PORTAL_WORKERS": str(workers), "PORTAL_BIND": f"127.0.0.1:{PORT}",
                     "PORTAL_GUNICORN_LOG_LEVEL": "warning"})
        deadline = time.monotonic() + 60
        path = "/" if app != "wsgi:app" else "/healthz"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("gunicorn stopped: " + log.read_text()[-2000:])
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=5).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("gunicorn did not start: " + log.read_text()[-2000:])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def swarm(args, user: str, prefix: Path, environment: dict[str, str]) -> dict:
    """Locust headless for args.seconds; the aggregated row and the rows per page."""
    with open(f"{prefix}-locust.log", "w") as messages:
        subprocess.run(
            [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
             "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--stop-timeout", "10",
             "--host", f"http://127.0.0.1:{PORT}", "--csv", str(prefix), "--only-summary",
             "--loglevel", "WARNING", "--exit-code-on-error", "0", user],
            env={**os.environ, **environment, "LOAD_CLIENT": args.client}, check=True,
            stdout=subprocess.DEVNULL, stderr=messages)
    with open(f"{prefix}_stats.csv") as stats:
        rows = list(csv.DictReader(stats))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    return {"total": total, "pages": [row for row in rows if row["Name"] != "Aggregated"]}


def figures(row: dict) -> str:
    return (f"{float(row['Requests/s']):6.0f} req/s  p50 {row['50%']:>4} ms  p95 {row['95%']:>4} ms  "
            f"p99 {row['99%']:>5} ms  errors {row['Failure Count']} of {row['Request Count']}")


def page_name(method: str, path: str) -> str:
    """A request-log line's page, named as bench/locustfile.py names it."""
    parts = path.split("/")
    if path.startswith("/content/") and path.endswith("/edit"):
        return ("POST " if method == "POST" else "") + "/content/<slug>/edit"
    if path.startswith("/content/"):
        return "/content/<slug>"
    if path.startswith("/stages/"):
        return "/stages/<slug>"
    if path == "/api/v1/usage":
        return "POST /api/v1/usage"
    if path == "/search":
        return "/search?q="
    return "/".join(parts[:2])


def server_times(log: Path, since: str) -> dict[str, list[tuple[float, float]]]:
    """(milliseconds, CPU milliseconds) the portal spent on each request of each page, from its
    own request log (JSON lines), from ``since`` on: the time in the worker, without the wait
    for a free worker thread, and the part of it the thread itself computed."""
    times: dict[str, list[tuple[float, float]]] = {}
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry["time"] >= since:
                times.setdefault(page_name(entry["method"], entry["path"]), []).append(
                    (entry["duration_ms"], entry.get("cpu_ms", 0.0)))
    return times


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def load_average() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def counts(env: dict[str, str]) -> dict[str, int]:
    return {
        "api_events": sql(env, "SELECT count(*) FROM usage_events e JOIN users u ON u.id = e.user_id "
                               "WHERE u.email = :email AND e.kind = 'view'", email=API_USER),
        "rep_views": sql(env, "SELECT count(*) FROM usage_events e JOIN users u ON u.id = e.user_id "
                              "WHERE u.email = :email AND e.kind = 'view'", email=REP),
        "versions": sql(env, "SELECT count(*) FROM item_versions WHERE note = :note", note=EDIT_NOTE),
    }


def run_once(args, env: dict[str, str], workers: int, folder: Path, results: list) -> None:
    stamp = f"w{workers}-{datetime.now(UTC):%H%M%S}"
    print(f"\n== {workers} workers × {env.get('PORTAL_THREADS', '2')} threads, {args.users} users, "
          f"{args.seconds} s each  (load average before: {load_average()})")
    ceiling = Server(env, workers, folder / f"ceiling-{stamp}.log", app="ceiling_app:app")
    try:
        top = swarm(args, "CeilingUser", folder / f"ceiling-{stamp}", {})
    finally:
        ceiling.stop()
    print(f"  ceiling (5 KB page) {figures(top['total'])}")

    # What a deployment runs before serving (docs/deploy.md): among others, the search ranking
    # refreshed from the usage so far. Otherwise the first request of a worker does it, holding
    # the index's writer lock (re-indexing up to 500 items took 68 s at load 9), and edits in
    # the meantime wait 5 s for it, then leave their index changes pending.
    portal_command(env, "setup")
    before = counts(env)
    server = Server(env, workers, folder / f"portal-{stamp}.log")
    try:
        token = portal_command(env, "users", "token", API_USER)
        cookies = {"rep_cookie": sign_in(PORT, REP), "manager_cookie": sign_in(PORT, MANAGER)}
        plan_file = folder / "plan.json"
        plan_file.write_text(json.dumps({**plan(args, env), **cookies, "token": token}))
        counted = folder / f"acknowledged-{stamp}.json"
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        portal = swarm(args, "PortalUser", folder / f"portal-{stamp}",
                       {"LOAD_PLAN": str(plan_file), "LOAD_COUNTS": str(counted)})
    finally:
        server.stop()
    told = json.loads(counted.read_text())
    after = counts(env)
    share = float(portal["total"]["Requests/s"]) / max(float(top["total"]["Requests/s"]), 1)
    print(f"  portal              {figures(portal['total'])}  = {share:.0%} of the ceiling")
    inside = server_times(folder / f"portal-{stamp}.log", since)
    print("    page (client's view; in the worker and its CPU time, from the request log)")
    for row in sorted(portal["pages"], key=lambda r: -float(r["95%"] or 0)):
        worker = [wall for wall, _ in inside.get(row["Name"], [])]
        cpu = [spent for _, spent in inside.get(row["Name"], [])]
        print(f"    {row['Name']:28} {row['Request Count']:>6} requests  p50 {row['50%']:>4}  "
              f"p95 {row['95%']:>4}  p99 {row['99%']:>5} ms  errors {row['Failure Count']:>3};  "
              f"in the worker p50 {quantile(worker, .5):5.0f}  p95 {quantile(worker, .95):5.0f} ms, "
              f"CPU p50 {quantile(cpu, .5):4.0f} ms")
    spent = [cpu for requests in inside.values() for _, cpu in requests]
    if spent:
        mean = sum(spent) / len(spent)
        # What the cores could serve if they did nothing but this mix: the bound on throughput
        # that no tuning of workers or threads lifts (the load generator shares the cores too).
        print(f"    CPU per request in the worker: mean {mean:.1f} ms; {os.cpu_count()} cores "
              f"serve at most {os.cpu_count() * 1000 / max(mean, 0.1):,.0f} req/s of this mix")
    written = {key: after[key] - before[key] for key in after}
    print(f"  usage writes: {told['usage_events']} answered 201, {written['api_events']} in the database")
    print(f"  item-page views: {told['item_views']} pages answered 200, {written['rep_views']} view events")
    print(f"  edits: {told['edits']} saved (redirected), {told['edits_refused']} refused, "
          f"{written['versions']} new versions in the database")
    check = portal_command(env, "index", "check", "--quiet")
    print(f"  {check}")
    log = (folder / f"portal-{stamp}.log").read_text()
    troubles = [line for line in log.splitlines() if "Traceback" in line or '"level": "ERROR"' in line
                or "dropped" in line and "0 dropped" not in line or "WORKER TIMEOUT" in line]
    retried = sum("not recorded yet" in line for line in log.splitlines())
    print(f"  server log: {retried} usage writes retried by the recorder, "
          f"{len(troubles)} errors or dropped events"
          + (f" (first: {troubles[0][:200]})" if troubles else ""))
    print(f"  load average after: {load_average()}")
    results.append({"workers": workers, "ceiling": top["total"], "portal": portal["total"],
                    "share": share, "told": told, "written": written, "index": check,
                    "server_errors": len(troubles), "load": load_average()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="a PostgreSQL URL (the database is emptied first); "
                                           "default: a SQLite file in --folder")
    parser.add_argument("--search-backend", choices=("whoosh", "postgres"), default="whoosh")
    parser.add_argument("--folder", default=str(Path(tempfile.gettempdir()) / "portal-load"),
                        help="the scratch instance's folder (database, index, files, logs)")
    parser.add_argument("--again", action="store_true", help="reuse the library seeded before")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--workers", default="2,4", help="worker counts, comma-separated")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--client", choices=("fast", "requests"), default="fast",
                        help="Locust's FastHttpUser (default) or HttpUser (python-requests)")
    parser.add_argument("--stage-pages", choices=("all", "demo"), default="all",
                        help="ask for every stage page, or only the demo library's stages")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "secret_key"
    if not secret.exists():
        secret.write_text(secrets.token_hex(32))
    args.secret = secret.read_text().strip()
    env = {**os.environ, **settings(args)}
    print(f"portal load bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"{env['PORTAL_DATABASE_URL'].split('://')[0]} + {args.search_backend}, in {folder}")
    if not args.again:
        seed(args, env)
    results: list = []
    for workers in (int(n) for n in args.workers.split(",")):
        run_once(args, env, workers, folder, results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
