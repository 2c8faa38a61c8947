"""Usage events recorded by the pages and the API themselves, without clients asking, and
never at the cost of what the person did."""

from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, select, text

from content_library.models import UsageEvent
from content_library.services import items as item_service
from content_library.services import users as user_service
from content_library.services.files import store_file
from portal.extensions import db
from tests.champion_support import share
from tests.conftest import csrf_from, page_token
from tests.test_uploads import fetch, pdf_bytes


def events(app, kind: str | None = None) -> list[UsageEvent]:
    with app.app_context():
        stmt = select(UsageEvent).order_by(UsageEvent.id)
        if kind:
            stmt = stmt.where(UsageEvent.kind == kind)
        return list(db.session.scalars(stmt))


@pytest.fixture
def rep(make_user, login):
    user_id, email = make_user("rep")
    login(email)
    return user_id


ARGUMENT = {"value_statement": "Forecasts you can trust.", "proof": ["Acme cut misses by 40%."]}


def test_a_view_of_the_item_page_records_one_view_with_the_stage_context(app, client, rep,
                                                                          make_item):
    make_item("roi-story", stages=("building-business-case",))
    stage_page = client.get("/stages/building-business-case").get_data(as_text=True)
    # The stage page's links carry the stage into the item page.
    link = re.search(r'href="(/content/roi-story[^"]*)"', stage_page).group(1)
    assert parse_qs(urlsplit(link.replace("&amp;", "&")).query) == {
        "stage": ["building-business-case"]}
    assert client.get(link.replace("&amp;", "&")).status_code == 200
    [view] = events(app)
    assert (view.kind, view.item_slug, view.user_id, view.role, view.stage) == (
        "view", "roi-story", rep, "rep", "building-business-case")
    assert view.item_id is not None and view.deal_id is None


def test_a_stage_context_that_is_not_a_stage_is_ignored(app, client, rep, make_item):
    make_item("roi-story")
    plain = client.get("/content/roi-story").get_data(as_text=True)
    forged = client.get("/content/roi-story?stage=<script>").get_data(as_text=True)
    assert "&lt;script&gt;" not in forged and "<script>" not in forged.split("</header>")[0]
    assert [e.stage for e in events(app)] == [None, None]
    assert len(plain) > 0


def test_a_champions_view_records_the_role_champion(app, client, make_user, login, make_item):
    make_item("template", audience="external")
    user_id, email = make_user("champion")
    share(app, ["template"], by=make_user("rep")[1], to=email)
    login(email)
    assert client.get("/content/template").status_code == 200
    [view] = events(app)
    assert (view.user_id, view.role) == (user_id, "champion")


@pytest.mark.parametrize("fields", [{"audience": "internal"}, {"status": "draft"}])
def test_an_item_the_caller_may_not_see_records_nothing(app, client, make_user, login, make_item,
                                                        fields):
    make_item("secret", **fields)
    _, email = make_user("champion")
    login(email)
    assert client.get("/content/secret").status_code == 404
    assert client.get("/content/secret/file").status_code == 404
    assert client.get("/api/v1/content/secret").status_code == 404
    assert client.get("/content/nothing-here").status_code == 404
    assert events(app) == []


def test_the_api_item_answer_records_a_view(app, client, rep, make_item):
    make_item("roi-story")
    assert client.get("/api/v1/content/roi-story").status_code == 200
    [view] = events(app)
    assert (view.kind, view.item_slug, view.role, view.details) == (
        "view", "roi-story", "rep", {"via": "api"})


def test_a_download_records_a_download_with_the_stage(app, client, rep, taxonomy):
    with app.app_context():
        stored = store_file(db.session, Path(app.config["UPLOAD_DIR"]), BytesIO(pdf_bytes()),
                            "deck.pdf", 10_000_000)
        item_service.save_item(db.session, item_service.ItemInput(
            slug="deck", title="Deck", type="case-study", audience="external",
            status="published", stages=("negotiating",)), None, file=stored)
    page = client.get("/content/deck?stage=negotiating").get_data(as_text=True)
    link = re.search(r'href="(/content/deck/file[^"]*)" download', page).group(1)
    assert fetch(client, link.replace("&amp;", "&")).status_code == 200
    assert fetch(client, "/content/deck/file?inline=1").status_code == 200
    download = events(app, "download")
    assert [(e.item_slug, e.stage, e.role, e.details) for e in download] == [
        ("deck", "negotiating", "rep", {}), ("deck", None, "rep", {"preview": True})]


def test_a_search_records_its_words_filters_and_count_and_the_opened_result(app, client, rep,
                                                                            make_item):
    make_item("roi-story", title="ROI story", summary="Return on investment for the CFO")
    make_item("roi-deck", title="ROI deck", summary="More return on investment")
    page = client.get("/search?q=ROI&stage=understanding-offerings").get_data(as_text=True)
    [search] = events(app, "search")
    assert (search.user_id, search.role, search.item_id) == (rep, "rep", None)
    assert search.details == {"query": "ROI", "filters": {"stage": ["understanding-offerings"]},
                              "results": 2}
    links = re.findall(r'class="card-title"><a href="([^"]+)"', page)
    second = links[1].replace("&amp;", "&")
    assert parse_qs(urlsplit(second).query) == {"from": ["search"], "pos": ["2"], "q": ["ROI"]}
    opened = client.get(second)
    assert opened.status_code == 200
    slug = urlsplit(second).path.rsplit("/", 1)[1]
    [search_open] = events(app, "search_open")
    assert (search_open.item_slug, search_open.details) == (slug, {"query": "ROI", "position": 2})
    assert [e.item_slug for e in events(app, "view")] == [slug]  # and it is a view, once
    # The page shows the same with or without the marks.
    assert opened.get_data(as_text=True).count("ROI") == \
        client.get(urlsplit(second).path).get_data(as_text=True).count("ROI")


def test_the_api_search_records_a_search_once_per_search(app, client, rep, make_item):
    make_item("roi-story", title="ROI story")
    client.get("/api/v1/search?q=roi")
    client.get("/api/v1/search?q=roi&page=2")
    client.get("/api/v1/search")  # browsing everything is not a search
    assert [e.details for e in events(app, "search")] == [
        {"query": "roi", "filters": {}, "results": 1}]


def test_a_copy_beacon_records_which_part_was_copied(app, client, rep, make_item):
    make_item("argument", type="sales-argument", argument=ARGUMENT)
    page = client.get("/content/argument?stage=negotiating").get_data(as_text=True)
    url = re.search(r'data-copied-url="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert 'data-part="value_statement"' in page
    token = csrf_from(page)
    # Without the CSRF header it is refused, and records nothing.
    assert client.post(url, data={"part": "proof"}).status_code == 400
    assert client.post(url, data={"part": "no-such-part"},
                       headers={"X-CSRFToken": token}).status_code == 400
    assert client.post(url, data={"part": "proof"}, headers={"X-CSRFToken": token}).status_code == 204
    [copy] = events(app, "copy")
    assert (copy.item_slug, copy.details, copy.stage, copy.role) == (
        "argument", {"part": "proof"}, "negotiating", "rep")


def test_feedback_from_a_rep_is_kept_with_a_thank_you(app, client, rep, make_item):
    make_item("roi-story")
    page = client.get("/content/roi-story?stage=negotiating").get_data(as_text=True)
    assert "Was this useful?" in page
    token = csrf_from(page)
    response = client.post("/content/roi-story/feedback", follow_redirects=True, data={
        "csrf_token": token, "useful": "no", "comment": "Needs a healthcare example.",
        "stage": "negotiating"})
    assert response.status_code == 200
    assert "Thank you for your feedback" in response.get_data(as_text=True)
    [feedback] = events(app, "feedback")
    assert (feedback.item_slug, feedback.user_id, feedback.stage, feedback.details) == (
        "roi-story", rep, "negotiating", {"useful": False, "comment": "Needs a healthcare example."})


def test_refused_feedback_keeps_what_the_rep_typed(app, client, rep, make_item):
    make_item("roi-story")
    token = page_token(client, "/content/roi-story")
    response = client.post("/content/roi-story/feedback", data={
        "csrf_token": token, "comment": "Half a thought"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Say whether it helped." in text and "Half a thought" in text
    assert events(app, "feedback") == []


def test_champions_get_no_feedback_form(app, client, make_user, login, make_item):
    make_item("template")
    _, email = make_user("champion")
    login(email)
    assert "Was this useful?" not in client.get("/content/template").get_data(as_text=True)
    token = page_token(client, "/content/template")
    response = client.post("/content/template/feedback", data={"csrf_token": token, "useful": "yes"})
    assert response.status_code == 403
    assert events(app, "feedback") == []


def refusing_writes(url: str):
    """The same database, on connections that refuse every write."""
    if url.startswith("sqlite"):
        return create_engine(f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true")
    return create_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})


def test_a_database_failure_while_recording_still_answers_and_loses_nothing(app, app_config,
                                                                            client, rep, make_item):
    make_item("roi-story")
    recorder = app.extensions["usage"]
    working, recorder.engine = recorder.engine, refusing_writes(app_config["DATABASE_URL"])
    try:
        response = client.get("/content/roi-story")
        assert response.status_code == 200 and "Roi Story" in response.get_data(as_text=True)
        assert recorder.waiting == 1
        assert events(app) == []
    finally:
        recorder.engine.dispose()
        recorder.engine = working
    assert client.get("/content/roi-story?stage=negotiating").status_code == 200
    assert [e.stage for e in events(app, "view")] == [None, "negotiating"]
    assert recorder.waiting == 0


@contextmanager
def usage_table_locked(url: str):
    """Another process's long write holds the lock recording needs."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(url)
    with engine.connect() as holder:
        # EXCLUSIVE: writes wait, reads (the page itself reads usage) go on, as under a long write.
        holder.execute(text("LOCK TABLE usage_events IN EXCLUSIVE MODE"))
        yield
        holder.rollback()
    engine.dispose()


def test_a_busy_database_delays_the_recording_not_the_page(app, app_config, client, rep,
                                                           make_item):
    make_item("roi-story")
    with usage_table_locked(app_config["DATABASE_URL"]):
        assert client.get("/content/roi-story").status_code == 200
        assert app.extensions["usage"].waiting == 1
    assert client.get("/content/roi-story").status_code == 200
    assert len(events(app, "view")) == 2
    assert app.extensions["usage"].waiting == 0


def test_a_bearer_token_records_through_the_api_without_csrf(app, make_user, make_item):
    make_item("roi-story")
    _, email = make_user("rep")
    with app.app_context():
        token = user_service.issue_token(db.session, email)
    response = app.test_client().get("/api/v1/content/roi-story",
                                     headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert [e.role for e in events(app, "view")] == ["rep"]
