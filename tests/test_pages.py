"""What a rep, a manager and a champion see on the main pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from content_library.models import ContentItem
from content_library.services import items as item_service
from portal.extensions import db
from tests.conftest import csrf_from, page_token


def text(response) -> str:
    return response.get_data(as_text=True)


def test_rep_home_lists_stages_in_order_grouped_by_phase(client, make_user, login, make_item):
    make_item("a")
    _, email = make_user("rep")
    login(email)
    html = text(client.get("/"))
    positions = [html.index(name) for name in
                 ("Understanding offerings", "Building a business case", "Negotiating")]
    assert positions == sorted(positions)
    assert "Conversations" in html and "Funded project" in html and "Vendor of choice" in html


def test_stage_page_shows_goal_criteria_and_content_grouped_by_stakeholder(
        client, make_user, login, make_item):
    make_item("cfo-case", title="CFO case", stages=["building-business-case"],
              stakeholders=["cfo"])
    make_item("it-case", title="IT case", stages=["building-business-case"], stakeholders=["it"])
    make_item("anyone", title="Everyone guide", stages=["building-business-case"])
    make_item("elsewhere", title="Other stage", stages=["negotiating"])
    make_item("hidden-draft", title="Draft thing", stages=["building-business-case"],
              status="draft")
    _, email = make_user("rep")
    login(email)
    html = text(client.get("/stages/building-business-case"))
    assert "Justify and fund the project." in html and "Budget approved" in html
    assert html.index("CFO case") < html.index("IT case") < html.index("Everyone guide")
    assert "Other stage" not in html and "Draft thing" not in html
    only_cfo = text(client.get("/stages/building-business-case?stakeholder=cfo"))
    assert "CFO case" in only_cfo and "IT case" not in only_cfo


def test_solution_and_vertical_narrow_but_keep_content_for_everyone(
        client, make_user, login, make_item):
    make_item("health", title="Healthcare story", verticals=["healthcare"])
    make_item("retail", title="Retail story", verticals=["retail"])
    make_item("all", title="Story for all")
    _, email = make_user("rep")
    login(email)
    html = text(client.get("/stages/understanding-offerings?vertical=healthcare"))
    assert "Healthcare story" in html and "Story for all" in html
    assert "Retail story" not in html
    assert "Healthcare" in html.split("Healthcare story")[1][:600]  # says why it was picked


def test_empty_stage_says_what_to_do(client, make_user, login, taxonomy):
    _, email = make_user("rep")
    login(email)
    html = text(client.get("/stages/negotiating"))
    assert "No content for this stage" in html and "marketing" in html


def test_item_page_renders_argument_parts_with_copy_buttons(client, make_user, login, make_item):
    make_item("arg", type="sales-argument", argument={
        "value_statement": "Forecast within 5%.", "proof": ["Gartner says so", "Our data"]},
        body="## Heading\n\nSome **bold** words.")
    _, email = make_user("rep")
    login(email)
    html = text(client.get("/content/arg"))
    assert "Forecast within 5%." in html and "<li>Gartner says so</li>" in html
    assert html.count('class="copy"') == 2
    assert "<strong>bold</strong>" in html


def test_manager_creates_an_item_and_a_refused_form_keeps_what_was_typed(
        app, client, make_user, login, taxonomy):
    _, email = make_user("manager")
    login(email)
    token = page_token(client, "/library/new")
    refused = client.post("/library/new", data={
        "csrf_token": token, "title": "My careful title", "summary": "Typed summary",
        "type": "case-study", "audience": "external", "status": "draft",
        "body": "Long body I wrote", "argument_value_statement": "My value"})
    html = text(refused)
    assert refused.status_code == 400
    assert "Choose at least one stage." in html
    assert 'value="My careful title"' in html and "Long body I wrote" in html
    assert "My value" in html
    created = client.post("/library/new", data={
        "csrf_token": token, "title": "My careful title", "type": "case-study",
        "audience": "external", "status": "draft", "stages": ["negotiating"]})
    assert created.status_code == 302 and created.headers["Location"] == "/content/my-careful-title"


def test_edit_conflict_is_reported_and_keeps_the_typed_words(app, client, make_user, login,
                                                             make_item):
    make_item("shared", body="v1")
    _, email = make_user("manager")
    login(email)
    form_html = text(client.get("/content/shared/edit"))
    token = csrf_from(form_html)
    base = {"csrf_token": token, "title": "Shared", "slug": "shared", "type": "case-study",
            "audience": "external", "status": "published", "stages": ["understanding-offerings"],
            "version": "1"}
    assert client.post("/content/shared/edit", data={**base, "body": "first"}).status_code == 302
    second = client.post("/content/shared/edit", data={**base, "body": "second editor's text"})
    assert second.status_code == 400
    assert "while you were editing" in text(second) and "second editor&#39;s text" in text(second)
    with app.app_context():
        assert db.session.scalar(select(ContentItem.body)) == "first"


def test_versions_can_be_opened_compared_and_restored(app, client, make_user, login, make_item):
    make_item("hist", body="old line")
    _, email = make_user("manager")
    login(email)
    token = csrf_from(text(client.get("/content/hist/edit")))
    client.post("/content/hist/edit", data={
        "csrf_token": token, "title": "Hist", "slug": "hist", "type": "case-study",
        "audience": "external", "status": "published", "stages": ["understanding-offerings"],
        "body": "new line", "note": "rewrote it", "version": "1"})
    history = text(client.get("/content/hist/versions"))
    assert "Version 2" in history and "rewrote it" in history
    diff = text(client.get("/content/hist/versions/1"))
    assert re.search(r'class="del">- old line', diff) and re.search(r'class="add">\+ new line', diff)
    restored = client.post("/content/hist/versions/1/restore", data={"csrf_token": token})
    assert restored.status_code == 302
    with app.app_context():
        item = db.session.scalar(select(ContentItem))
        assert item.body == "old line" and item.version == 3


def test_workflow_buttons_move_an_item_to_published(app, client, make_user, login, make_item):
    make_item("wf", status="draft")
    _, email = make_user("manager")
    login(email)
    token = page_token(client, "/content/wf")
    client.post("/content/wf/status", data={"csrf_token": token, "status": "in_review"})
    client.post("/content/wf/status", data={"csrf_token": token, "status": "published"})
    with app.app_context():
        assert db.session.scalar(select(ContentItem.status)) == "published"


def test_manager_edits_the_taxonomy(app, client, make_user, login, taxonomy):
    _, email = make_user("manager")
    login(email)
    token = page_token(client, "/admin/taxonomy")
    created = client.post("/admin/taxonomy/verticals/new", data={
        "csrf_token": token, "slug": "banking", "name": "Banking"})
    assert created.status_code == 302
    assert "Banking" in text(client.get("/admin/taxonomy"))
    clash = client.post("/admin/taxonomy/verticals/new", data={
        "csrf_token": token, "slug": "banking", "name": "Banking again"})
    assert clash.status_code == 400 and "already used" in text(clash)


def test_a_tag_in_use_cannot_be_deleted(client, make_user, login, make_item):
    make_item("uses-cfo", stakeholders=["cfo"])
    _, email = make_user("manager")
    login(email)
    token = page_token(client, "/admin/taxonomy")
    response = client.post("/admin/taxonomy/stakeholders/cfo/delete", data={"csrf_token": token},
                           follow_redirects=True)
    assert "still use" in text(response) and ">CFO<" in text(response)


def test_library_lists_every_status_for_managers(client, make_user, login, make_item):
    for status in ("draft", "in_review", "published", "archived"):
        make_item(f"s-{status.replace('_', '-')}", status=status)
    _, email = make_user("manager")
    login(email)
    html = text(client.get("/library"))
    assert all(f"S {s}" in html for s in ("Draft", "In Review", "Published", "Archived"))
    drafts = text(client.get("/library?status=draft"))
    assert "S Draft" in drafts and "S Published" not in drafts


def test_the_library_filter_searches_the_full_text_of_every_status(client, make_user, login, make_item):
    for status in ("draft", "in_review", "published", "archived"):
        make_item(f"s-{status.replace('_', '-')}", status=status, audience="internal",
                  body=f"The {status.replace('_', ' ')} notes on tariff negotiations.")
    make_item("unrelated", status="draft", body="Nothing to see.")
    make_item("tariff-guide", title="Tariff guide", status="draft")
    _, email = make_user("manager")
    login(email)
    html = text(client.get("/library?q=negotiating tariffs"))  # stemmed words, in bodies only
    assert all(f"S {s}" in html for s in ("Draft", "In Review", "Published", "Archived"))
    assert "Unrelated" not in html and "4 items" in html
    archived = text(client.get("/library?q=tariff&status=archived"))
    assert "S Archived" in archived and "S Draft" not in archived and "1 item" in archived
    assert "Tariff guide" in text(client.get("/library?q=tariff"))  # titles as before
    assert "Tariff guide" in text(client.get("/library?q=ariff gu"))  # part of a title too

    _, rep = make_user("rep")
    login(rep)
    assert client.get("/api/v1/search?q=tariff").json["total"] == 1  # readers: published only


def test_a_form_posted_twice_creates_one_item_and_says_why(app, client, make_user, login, taxonomy):
    _, email = make_user("manager")
    login(email)
    data = {"csrf_token": page_token(client, "/library/new"), "title": "Twice", "type": "case-study",
            "audience": "external", "status": "draft", "stages": ["negotiating"]}
    assert client.post("/library/new", data=data).status_code == 302
    again = client.post("/library/new", data=data)
    assert again.status_code == 400 and "Another item already uses this slug." in text(again)
    with app.app_context():
        assert db.session.scalars(select(ContentItem.slug)).all() == ["twice"]


def test_a_crowded_stage_shows_the_best_dozen_per_stakeholder_and_links_to_the_rest(
        client, make_user, login, make_item):
    for n in range(15):
        make_item(f"cfo-case-{n:02d}", stakeholders=("cfo",))
    make_item("it-case", stakeholders=("it",))
    login(make_user("rep")[1])
    html = client.get("/stages/understanding-offerings").get_data(as_text=True)
    assert sum(f"/content/cfo-case-{n:02d}" in html for n in range(15)) == 12
    assert "See all 15 for CFO at this stage" in html
    assert "/search?stage=understanding-offerings&amp;stakeholder=cfo" in html
    assert "/content/it-case" in html and "See all 1 " not in html
    found = client.get("/search?stage=understanding-offerings&stakeholder=cfo")
    assert found.status_code == 200
    assert sum(f"/content/cfo-case-{n:02d}" in found.get_data(as_text=True)
               for n in range(15)) == 15


def test_a_crowded_stage_page_reads_only_the_items_it_shows(app, client, make_user, login, make_item,
                                                            monkeypatch):
    # Ranking reads plain rows; the cards' text and tags are read for the cards shown only:
    # at 10,000 items, loading the whole stage cost 0.3 s a page (bench/load.py).
    from content_library.services import catalog

    for n in range(30):
        make_item(f"cfo-case-{n:02d}", stakeholders=("cfo",))
    login(make_user("rep")[1])
    asked = []
    readable_cards = catalog.readable_cards

    def counting(session, user, ids, today, **options):
        asked.extend(ids)
        return readable_cards(session, user, ids, today, **options)

    monkeypatch.setattr(catalog, "readable_cards", counting)
    html = client.get("/stages/understanding-offerings").get_data(as_text=True)
    assert sum(f"/content/cfo-case-{n:02d}" in html for n in range(30)) == 12
    assert len(set(asked)) == 12


def test_a_stage_ranking_is_kept_briefly_but_what_it_shows_is_always_current(
        app, client, make_user, login, make_item):
    # Another worker (a second app on the same database and index) publishes and retires
    # items; this worker keeps its ranking for PORTAL_STAGE_RANKING_SECONDS, yet never shows
    # an item that is no longer published, and its own changes show at once.
    from portal import create_app

    now = [1000.0]
    app.extensions["stage_rankings"]._clock = lambda: now[0]
    make_item("cfo-kept", stakeholders=("cfo",))
    make_item("cfo-retired", stakeholders=("cfo",))
    login(make_user("rep")[1])
    page = lambda: client.get("/stages/understanding-offerings").get_data(as_text=True)  # noqa: E731
    assert "/content/cfo-kept" in page() and "/content/cfo-retired" in page()

    other = create_app({**app.config})
    with other.app_context():
        retired = item_service.get_item(db.session, "cfo-retired")
        item_service.save_item(db.session, item_service.ItemInput(
            **{**item_service.input_from_snapshot(item_service.snapshot(retired)).__dict__,
               "status": "archived"}), None, existing=retired)
        item_service.save_item(db.session, item_service.ItemInput(
            slug="cfo-new-elsewhere", title="New elsewhere", type="case-study", audience="external",
            status="published", stages=("understanding-offerings",), stakeholders=("cfo",)), None)
        db.session.close()
        db.engine.dispose()
    other.extensions["usage"].engine.dispose()
    html = page()
    assert "/content/cfo-retired" not in html  # never shown once retired
    assert "/content/cfo-new-elsewhere" not in html  # the kept order: seconds old
    now[0] += app.config["STAGE_RANKING_SECONDS"] + 1
    assert "/content/cfo-new-elsewhere" in page()

    make_item("cfo-new-here", stakeholders=("cfo",))
    assert "/content/cfo-new-here" in page()  # this worker's own change: at once
