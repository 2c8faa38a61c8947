"""The storm: four gunicorn workers (one host, deploy/gunicorn.conf.py) while library imports,
item edits by two managers, searches and usage reports all run at once, then proof that every
acknowledged write landed and the search index agrees with the database.

Once on SQLite searching with Whoosh (the single-machine deployment) and once on PostgreSQL
searching with the postgres backend (the several-hosts deployment). For STORM_SECONDS
(PORTAL_STORM_SECONDS, 20 by default) threads of this process, each one request at a time:

- two managers edit the library's items through the web form (log-in, the form page for its
  CSRF token and version, the POST): 302 is an acknowledged edit; 400 saying someone saved
  while they were editing is a conflict, counted, not an error;
- `portal library import FILE` runs again and again as a process of its own on the same
  database, each file changing two existing items and adding a new one;
- a rep searches (GET /api/v1/search) and reports usage (POST /api/v1/usage, 201 = stored).

Then: no answer was a 5xx or a broken connection; every item's versions are numbered 1..n
without gaps, n being its creation plus the acknowledged edits and imports that changed it;
the stored "view" events are exactly the 201s and the "search" events exactly the searches
answered; `portal index check` finds nothing missing, stale, extra or pending.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from content_library.models import Base, ContentItem, UsageEvent
from content_library.services import items as item_service
from content_library.services import users as user_service
from content_library.services.index_feed import DatabaseFeed
from portal.extensions import db
from portal.indexing import backend
from search_index import sync
from tests.browser_support import free_port
from tests.conftest import PASSWORD
from tests.gunicorn_support import Visitor, app_on, gunicorn, run_portal
from tests.search_library import fresh_database
from tests.test_serving import merge_taxonomy

STORM_SECONDS = float(os.environ.get("PORTAL_STORM_SECONDS", "20"))
PORTS = range(5211, 5220)
ITEMS = [f"storm-{n}" for n in range(1, 6)]
MANAGERS = ["storm.manager1@example.com", "storm.manager2@example.com"]
REP = "storm.rep@example.com"
WORDS = ["storm", "payback", "edited", "imported", "forecast", "nothing-here"]
CONFLICT = "while you were editing"


def _fields(slug: str, body: str) -> dict:
    """Every field of an item as both the form and the exchange file give it: only the body
    differs from one write to the next, and every body is new, so every write changes."""
    return {"slug": slug, "title": slug.replace("-", " ").title(), "type": "case-study",
            "audience": "external", "status": "published", "stages": ["negotiating"],
            "body": body}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings(request, tmp_path):
    values = {"SECRET_KEY": "storm-" + "k" * 40, "INDEX_DIR": str(tmp_path / "index"),
              "UPLOAD_DIR": str(tmp_path / "files")}
    if request.param == "sqlite":
        yield {**values, "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
               "SEARCH_BACKEND": "whoosh"}
        return
    with fresh_database("portal_storm") as url:
        yield {**values, "DATABASE_URL": url, "SEARCH_BACKEND": "postgres"}


def _seed(settings: dict) -> str:
    """The taxonomy, the items at version 1, two managers and a rep; the index built.
    Returns the rep's API token."""
    with app_on(settings) as app:
        Base.metadata.create_all(db.engine)
        merge_taxonomy(db.session)
        for slug in ITEMS:
            fields = _fields(slug, "First words about payback.")
            item_service.save_item(db.session, item_service.ItemInput(
                **{**fields, "stages": tuple(fields["stages"])}), None)
        for email in [*MANAGERS, REP]:
            role = "rep" if email == REP else "manager"
            user_service.create_user(db.session, user_service.NewUser(
                email=email, name=email.split("@")[0], role=role, password=PASSWORD))
        token = user_service.issue_token(db.session, REP)
        sync.rebuild(backend(app), DatabaseFeed(db.session))
    return token


class Tally:
    """What the storm's clients were told, shared by their threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.changed: Counter[str] = Counter()  # acknowledged writes per item
        self.counts: Counter[str] = Counter()  # edits, conflicts, imports, searches, views
        self.views: Counter[str] = Counter()  # 201s per item
        self.wrong: list[str] = []  # anything else: an answer no client should get

    def note(self, what: str, *, changed=(), viewed: str | None = None) -> None:
        with self._lock:
            self.counts[what] += 1
            self.changed.update(changed)
            if viewed:
                self.views[viewed] += 1

    def unexpected(self, what: str) -> None:
        with self._lock:
            self.wrong.append(what)


def _editor(port: int, email: str, until: float, tally: Tally) -> None:
    manager = Visitor()
    assert manager.log_in(port, email).status == 302
    pick = random.Random(email)
    n = 0
    while time.monotonic() < until:
        slug = pick.choice(ITEMS)
        csrf, version = manager.edit_form(port, slug)
        n += 1
        answer = manager.post(port, f"/content/{slug}/edit", {
            **_fields(slug, f"Edited by {email}, edit {n}, about payback."),
            "csrf_token": csrf, "version": str(version), "note": f"edit {n}"})
        if answer.status == 302 and answer.headers["Location"].endswith(f"/content/{slug}"):
            tally.note("edits", changed=[slug])
        elif answer.status == 400 and CONFLICT in answer.text:
            tally.note("conflicts")
        else:
            tally.unexpected(f"edit of {slug}: {answer.status} {answer.text[:300]}")


def _importer(settings: dict, folder: Path, until: float, tally: Tally) -> None:
    pick = random.Random("imports")
    n = 0
    while time.monotonic() < until:
        n += 1
        slugs = [*pick.sample(ITEMS, 2), f"storm-new-{n}"]
        path = folder / f"import-{n}.json"
        path.write_text(json.dumps({"items": [
            _fields(slug, f"Imported in round {n}, about payback.") for slug in slugs]}))
        done = run_portal(settings, "library", "import", str(path))
        if done.returncode == 0 and "created 1, updated 2, unchanged 0" in done.stdout:
            tally.note("imports", changed=slugs)
        else:  # all or nothing: a refused import changed nothing, but none should be refused
            tally.unexpected(f"import {n}: exit {done.returncode}: {done.stdout} {done.stderr[-500:]}")


def _searcher(port: int, token: str, until: float, tally: Tally) -> None:
    rep = Visitor(token=token)
    pick = random.Random(threading.get_ident())
    while time.monotonic() < until:
        answer = rep.get(port, f"/api/v1/search?q={pick.choice(WORDS)}")
        if answer.status == 200 and "results" in answer.json():
            tally.note("searches")
        else:
            tally.unexpected(f"search: {answer.status} {answer.text[:300]}")


def _reporter(port: int, token: str, until: float, tally: Tally) -> None:
    rep = Visitor(token=token)
    pick = random.Random(threading.get_ident())
    while time.monotonic() < until:
        slug = pick.choice(ITEMS)
        answer = rep.request(port, "POST", "/api/v1/usage",
                             body={"kind": "view", "content": slug, "deal": None})
        if answer.status == 201:
            tally.note("views", viewed=slug)
        else:
            tally.unexpected(f"usage: {answer.status} {answer.text[:300]}")


def _storm(port: int, settings: dict, token: str, folder: Path) -> Tally:
    tally = Tally()
    until = time.monotonic() + STORM_SECONDS
    with ThreadPoolExecutor(8) as pool:
        running = [pool.submit(_editor, port, email, until, tally) for email in MANAGERS]
        running.append(pool.submit(_importer, settings, folder, until, tally))
        running += [pool.submit(_searcher, port, token, until, tally) for _ in range(2)]
        running += [pool.submit(_reporter, port, token, until, tally) for _ in range(3)]
        for future in running:
            future.result()  # a client that broke (a refused connection, say) fails the test
    return tally


_CHECK = re.compile(r"index: missing (\d+), stale (\d+), extra (\d+), pending (\d+)")


def _index_check(settings: dict) -> tuple[int, ...]:
    """`portal index check`'s counts once nothing is left pending (a worker that found the
    index busy retries in the background within a few seconds)."""
    for _ in range(10):
        done = run_portal(settings, "index", "check", "--quiet")
        assert done.returncode == 0, done.stderr
        counts = tuple(int(n) for n in _CHECK.search(done.stdout).groups())
        if counts[3] == 0:
            break
        time.sleep(1)
    return counts


def _stored(settings: dict):
    """Per item: its version numbers and its current version; the usage events by kind, and
    the "view" events by item."""
    with app_on(settings):
        items = db.session.scalars(select(ContentItem)).all()
        numbers = {item.slug: sorted(v.number for v in item.versions) for item in items}
        current = {item.slug: item.version for item in items}
        kinds = Counter(dict(db.session.execute(
            select(UsageEvent.kind, func.count()).group_by(UsageEvent.kind)).all()))
        views = Counter(dict(db.session.execute(
            select(UsageEvent.item_slug, func.count()).where(UsageEvent.kind == "view")
            .group_by(UsageEvent.item_slug)).all()))
    return numbers, current, kinds, views


def test_every_write_of_a_storm_lands_and_the_index_agrees(settings, tmp_path):
    token = _seed(settings)
    port = free_port(PORTS)
    started = time.monotonic()
    with gunicorn(settings, port, tmp_path / "gunicorn.log", workers=4):
        tally = _storm(port, settings, token, tmp_path)
        assert _index_check(settings) == (0, 0, 0, 0)
    # (gunicorn stopped: each worker has stored any search event it still held)
    assert not tally.wrong, tally.wrong[:10]
    assert all(tally.counts[what] > 0 for what in ("edits", "imports", "searches", "views")), tally.counts

    numbers, current, kinds, views = _stored(settings)
    created = {slug: 1 for slug in ITEMS}  # the seeded version 1
    assert set(numbers) == set(ITEMS) | {s for s in tally.changed if s.startswith("storm-new-")}
    for slug, found in numbers.items():
        assert found == list(range(1, len(found) + 1)), (slug, found)  # no gap, no repeat
        assert current[slug] == len(found)
        assert len(found) == created.get(slug, 0) + tally.changed[slug], (slug, found)
    assert views == tally.views  # every 201 is a stored event, and nothing else is
    assert kinds["view"] == tally.counts["views"]
    assert kinds["search"] == tally.counts["searches"]  # every search answered was recorded
    print(f"storm on {settings['DATABASE_URL'].split(':')[0]} in {time.monotonic() - started:.0f} s:",
          dict(tally.counts))
