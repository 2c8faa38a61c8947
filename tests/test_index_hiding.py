"""The index never shows a champion what the database hides: not after a commit that hides
an item, not when two drains run at once, not when the index has drifted. Each test runs
on SQLite with Whoosh and, given PORTAL_TEST_DATABASE_URL, on PostgreSQL with both backends."""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from contextlib import contextmanager
from dataclasses import replace

import psycopg
import pytest
from sqlalchemy import event, select, update

from content_library.models import ContentItem, ItemVersion, User
from content_library.services import items as item_service
from content_library.services.index_feed import DatabaseFeed
from portal import indexing
from portal.extensions import db
from search_index import sync
from tests.champion_support import share
from tests.conftest import csrf_from, log_in

SLUG = "quillwort-story"
HIDDEN = {"total": 0, "results": [], "facets": {}, "browse": 0, "suggest": [], "did_you_mean": None}


@pytest.fixture(params=["sqlite", "postgres+whoosh", "postgres"])
def app_config(request, app_config, tmp_path):
    """SQLite with Whoosh; PostgreSQL with Whoosh and with its own search backend."""
    if request.param == "sqlite":
        return {**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}"}
    url = request.getfixturevalue("own_postgres_database")
    search = "whoosh" if request.param == "postgres+whoosh" else "postgres"
    return {**app_config, "DATABASE_URL": url, "SEARCH_BACKEND": search}


@pytest.fixture
def story(app, make_item, make_user):
    """The story, shared with every champion of the buyer's company (make_user's default)."""
    slug = make_item(SLUG, title="Quillwort pricing story", summary="How Quillwort cut forecast errors.",
                     stakeholders=["cfo"], solutions=["forecasting"])
    share(app, [slug], by=make_user("rep")[1], company="Buyer Inc")
    return slug


def signed_in(app, email):
    client = app.test_client()
    assert log_in(client, email).status_code == 302
    return client


def champion_view(client) -> dict:
    """Everything search tells a champion about the story: results, counts, words."""
    # Words first: a search that meets a hit the database drops repairs the index.
    suggest = [s["text"] for s in client.get("/search/suggest", query_string={"q": "quillw"}).json]
    did_you_mean = client.get("/api/v1/search", query_string={"q": "quilwort"}).json["suggestion"]
    found = client.get("/api/v1/search", query_string={"q": "quillwort"}).json
    return {
        "total": found["total"],
        "results": [r["slug"] for r in found["results"]],
        "facets": {facet: counts for facet, counts in found["facets"].items() if counts},
        "browse": client.get("/api/v1/search").json["total"],
        "suggest": suggest,
        "did_you_mean": did_you_mean,
    }


def assert_shown(view: dict) -> None:
    assert view["total"] == 1 and view["results"] == [SLUG] and view["browse"] == 1
    assert view["facets"]["stakeholder"] == {"cfo": 1}
    assert any("quillwort" in s.lower() for s in view["suggest"])
    assert view["did_you_mean"] == "quillwort"


def index_check(app) -> str:
    result = app.test_cli_runner().invoke(args=["index", "check", "--quiet"])
    return result.output.splitlines()[0]


CLEAN = "index: missing 0, stale 0, extra 0, pending 0"


@contextmanager
def drains_held_back(monkeypatch):
    """As if the drain after each commit had not run yet (a slow or crashed process)."""
    monkeypatch.setattr(indexing, "drain_pending", lambda app, **kw: 0)
    yield
    monkeypatch.undo()


def set_status(client, slug: str, status: str):
    token = csrf_from(client.get(f"/content/{slug}").get_data(as_text=True))
    return client.post(f"/content/{slug}/status", data={"status": status, "csrf_token": token})


def test_an_archived_item_leaves_search_with_its_commit(app, make_user, story, monkeypatch):
    champion = signed_in(app, make_user("champion")[1])
    manager = signed_in(app, make_user("manager")[1])
    assert_shown(champion_view(champion))
    with drains_held_back(monkeypatch):
        assert set_status(manager, SLUG, "archived").status_code == 302
        assert champion_view(champion) == HIDDEN
    indexing.drain_pending(app)
    assert champion_view(champion) == HIDDEN
    assert index_check(app) == CLEAN


def test_an_item_made_internal_leaves_a_champions_search_with_its_commit(app, make_user, story,
                                                                          monkeypatch):
    champion = signed_in(app, make_user("champion")[1])
    rep = signed_in(app, make_user("rep")[1])
    with drains_held_back(monkeypatch), app.app_context():
        item = item_service.get_item(db.session, SLUG)
        data = replace(item_service.input_from_snapshot(item_service.snapshot(item)), audience="internal")
        item_service.save_item(db.session, data, None, existing=item)
        assert champion_view(champion) == HIDDEN
    indexing.drain_pending(app)
    assert champion_view(champion) == HIDDEN
    assert rep.get("/api/v1/search?q=quillwort").json["total"] == 1  # staff still find it
    assert index_check(app) == CLEAN


def test_a_hiding_change_that_fails_to_commit_leaves_the_item_findable(app, make_user, story):
    champion = signed_in(app, make_user("champion")[1])
    manager_id, _ = make_user("manager")

    def fail(session):
        if "index_release" in session.info:  # the index has hidden the item already
            raise RuntimeError("the database refused the commit")

    factory = db.session_factory(app)
    event.listen(factory, "before_commit", fail)  # after the index hid it
    try:
        with app.app_context():
            item = item_service.get_item(db.session, SLUG)
            with pytest.raises(RuntimeError):
                item_service.change_status(db.session, item, "archived", db.session.get(User, manager_id))
            db.session.rollback()
    finally:
        event.remove(factory, "before_commit", fail)
    assert_shown(champion_view(champion))
    assert index_check(app) == CLEAN


class PausingFeed(DatabaseFeed):
    """A drain that stops right after reading the items, until told to go on."""

    def __init__(self, session, read: threading.Event, go: threading.Event):
        super().__init__(session)
        self.read, self.go = read, go

    def records(self, slugs):
        found = super().records(slugs)
        self.read.set()
        self.go.wait(10)
        return found


def test_a_drain_that_read_before_an_archive_never_writes_after_it(app, make_user, story, monkeypatch):
    champion = signed_in(app, make_user("champion")[1])
    manager_id, _ = make_user("manager")
    with drains_held_back(monkeypatch), app.app_context():  # a change waiting to be applied
        item = item_service.get_item(db.session, SLUG)
        data = replace(item_service.input_from_snapshot(item_service.snapshot(item)), summary="Newer words.")
        item_service.save_item(db.session, data, None, existing=item)

    read, go = threading.Event(), threading.Event()
    session = db.session_factory(app)()
    slow = threading.Thread(target=sync.drain, args=(indexing.backend(app), PausingFeed(session, read, go)))
    slow.start()
    assert read.wait(10)

    def archive():
        with app.app_context():
            found = item_service.get_item(db.session, SLUG)
            item_service.change_status(db.session, found, "archived", db.session.get(User, manager_id))

    archiving = threading.Thread(target=archive)
    archiving.start()
    archiving.join(0.5)  # done by now, unless it waits for the slow drain to finish writing
    go.set()
    slow.join(10)
    archiving.join(10)
    session.close()
    assert champion_view(champion) == HIDDEN
    indexing.drain_pending(app)
    assert index_check(app) == CLEAN


def _archive_behind_the_index(app) -> None:
    """The database hides the item while the index, with no change pending, still has it."""
    with app.app_context():
        db.session.execute(update(ContentItem).where(ContentItem.slug == SLUG).values(status="archived"))
        db.session.commit()


def test_search_never_counts_a_hit_the_database_drops_and_repairs_the_index(app, make_user, story):
    champion = signed_in(app, make_user("champion")[1])
    _archive_behind_the_index(app)
    found = champion.get("/api/v1/search?q=quillwort").json
    assert (found["total"], found["results"]) == (0, [])
    assert not any(found["facets"].values())
    assert champion_view(champion) == HIDDEN
    # A champion's search is held to what the database lets them read, so it never even
    # meets the hit; a rep's does, drops it from the counts and repairs the index.
    rep = signed_in(app, make_user("rep")[1])
    assert rep.get("/api/v1/search?q=quillwort").json["total"] == 0
    assert index_check(app) == CLEAN


@contextmanager
def index_lock_held(app):
    """Another writer holding the index's writer lock."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        with psycopg.connect(indexing.postgres_dsn(app)) as other:
            other.execute("SELECT 1")  # a transaction, which the lock lasts as long as
            indexing.backend(app).hide([], [], connection=other)
            yield
            other.rollback()
    else:
        release = indexing.backend(app).hide([], [])
        try:
            yield
        finally:
            release()


def test_a_dropped_hit_leaves_the_counts_even_while_the_index_is_busy(app, make_user, story):
    champion = signed_in(app, make_user("champion")[1])
    _archive_behind_the_index(app)
    with index_lock_held(app):
        found = champion.get("/api/v1/search?q=quillwort").json
    assert (found["total"], found["results"]) == (0, [])
    assert not any(found["facets"].values())


def test_an_archive_the_busy_index_cannot_take_is_refused_whole(app, make_user, story):
    champion = signed_in(app, make_user("champion")[1])
    manager = signed_in(app, make_user("manager")[1])
    with index_lock_held(app):  # a rebuild, say, for longer than a writer waits
        answer = set_status(manager, SLUG, "archived")
    assert answer.status_code == 302
    page = manager.get(answer.headers["Location"]).get_data(as_text=True)
    assert "search index is busy" in page
    with app.app_context():
        assert item_service.get_item(db.session, SLUG).status == "published"
    assert_shown(champion_view(champion))
    assert index_check(app) == CLEAN


def test_a_status_change_from_a_stale_page_builds_on_the_latest_version(app, make_user, story):
    manager_id, _ = make_user("manager")
    with app.app_context():
        stale = item_service.get_item(db.session, SLUG)
        db.session.commit()  # the page was read; its transaction is over
        other = db.session_factory(app)()  # meanwhile another manager archives it
        item_service.change_status(other, item_service.get_item(other, SLUG), "archived",
                                   other.get(User, manager_id))
        other.close()
        manager = db.session.get(User, manager_id)
        item_service.change_status(db.session, stale, "archived", manager)  # the same move: done
        item_service.change_status(db.session, stale, "published", manager)
        numbers = db.session.scalars(select(ItemVersion.number).join(ContentItem)
                                     .where(ContentItem.slug == SLUG).order_by(ItemVersion.number))
        assert list(numbers) == [1, 2, 3]
        assert stale.status == "published" and stale.version == 3


# ---- the race of the probe: four managers, one item, real processes ----------------------

ROUNDS = 20
CHANGES = 5


def _race_worker(config: dict, email: str, number: int, orders, reports) -> None:
    """One manager's browser: each round, wait for the others, then change the story's
    status five times, alternating archived and published, and report the answers."""
    try:
        from portal import create_app

        client = signed_in(create_app(config), email)
        token = csrf_from(client.get(f"/content/{SLUG}").get_data(as_text=True))
        while (round_number := orders.get()) is not None:
            answers = []
            for change in range(CHANGES):
                status = ("archived", "published")[(number + change) % 2]
                response = client.post(f"/content/{SLUG}/status",
                                       data={"status": status, "csrf_token": token})
                answers.append(response.status_code)
            reports.put((round_number, number, answers))
    except Exception:  # reported to the test, which fails with the traceback
        reports.put((None, number, traceback.format_exc()))


@pytest.mark.parametrize("app_config", ["sqlite", "postgres"], indirect=True)
def test_four_managers_racing_one_items_status_never_leave_it_findable(app, app_config, make_user,
                                                                       story):
    champion = signed_in(app, make_user("champion")[1])
    managers = [make_user("manager")[1] for _ in range(4)]
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    orders = [context.Queue() for _ in managers]
    workers = [context.Process(target=_race_worker, args=(app_config, email, n, orders[n], reports))
               for n, email in enumerate(managers)]
    for worker in workers:
        worker.start()
    try:
        for round_number in range(ROUNDS):
            for queue in orders:
                queue.put(round_number)
            for _ in workers:
                got, number, answers = reports.get(timeout=120)
                assert got == round_number, answers
                assert answers == [302] * CHANGES, f"manager {number}: {answers}"
            with app.app_context():
                status = db.session.scalar(select(ContentItem.status).where(ContentItem.slug == SLUG))
                db.session.close()
            view = champion_view(champion)  # before anything else drains or repairs
            if status == "published":
                assert_shown(view)
            else:
                assert view == HIDDEN, f"round {round_number}: the database says {status}"
            indexing.drain_pending(app)  # what a busy index left pending, as the next request would
            assert index_check(app) == CLEAN, f"round {round_number}"
    finally:
        for queue in orders:
            queue.put(None)
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
