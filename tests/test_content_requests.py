"""Content requests, completed: a rep asks from a search, an item or a stage page; marketing
accepts, declines or completes them with the item that answers; the rep follows the status."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from content_library.models import ContentRequest
from portal.extensions import db
from tests.conftest import csrf_from, log_in, page_token


def stored(app) -> list[ContentRequest]:
    with app.app_context():
        requests = list(db.session.scalars(select(ContentRequest).order_by(ContentRequest.id)))
        for r in requests:
            db.session.expunge(r)
        return requests


@pytest.fixture
def rep(client, make_user, login, make_item):
    make_item("roi-calculator", title="ROI calculator", stages=["building-business-case"])
    _, email = make_user("rep", name="Rita Rep")
    return login(email)


@pytest.fixture
def manager(app, make_user):
    other = app.test_client()
    _, email = make_user("manager", name="Mona Manager")
    log_in(other, email)
    return other


def ask(client, path: str, **fields):
    page = client.get(path).get_data(as_text=True)
    return client.post("/requests/new", data={"csrf_token": csrf_from(page), **fields})


def test_a_rep_asks_from_an_item_page_with_stage_and_stakeholder(app, rep):
    page = rep.get("/content/roi-calculator?stage=building-business-case").get_data(as_text=True)
    assert "/requests/new?item=roi-calculator&amp;stage=building-business-case" in page
    form = rep.get("/requests/new?item=roi-calculator&stage=building-business-case")
    text = form.get_data(as_text=True)
    assert "Asked from: <a" in text and "ROI calculator" in text
    assert '<option selected value="building-business-case">' in text
    response = rep.post("/requests/new", data={
        "csrf_token": csrf_from(text), "item": "roi-calculator", "stage": "building-business-case",
        "stakeholder": "cfo", "message": "A one-page ROI summary for the board"})
    assert response.status_code == 302 and response.location.endswith("/requests/mine")
    [request] = stored(app)
    assert (request.stage, request.stakeholder, request.message, request.status) == (
        "building-business-case", "cfo", "A one-page ROI summary for the board", "open")
    mine = rep.get("/requests/mine").get_data(as_text=True)
    assert "A one-page ROI summary for the board" in mine and "Waiting for marketing" in mine
    assert "Building a business case" in mine and "CFO" in mine


def test_a_rep_asks_from_a_stage_page(app, rep):
    page = rep.get("/stages/negotiating?stakeholder=it").get_data(as_text=True)
    assert "/requests/new?stage=negotiating&amp;stakeholder=it" in page
    response = ask(rep, "/requests/new?stage=negotiating&stakeholder=it", stage="negotiating",
                   stakeholder="it", message="Security answers for IT")
    assert response.status_code == 302
    assert [(r.stage, r.stakeholder) for r in stored(app)] == [("negotiating", "it")]


def test_the_no_results_page_asks_for_stage_and_stakeholder(app, rep):
    page = rep.get("/search?q=quantum&stage=negotiating&stakeholder=cfo&stakeholder=it"
                   ).get_data(as_text=True)
    assert "Ask marketing for it" in page
    # The one stage searched is chosen already; of two stakeholders, neither is.
    assert '<option selected value="negotiating">' in page
    assert 'selected value="cfo"' not in page and 'selected value="it"' not in page
    response = rep.post("/search/request", data={
        "csrf_token": csrf_from(page), "query": "quantum", "message": "Quantum pricing",
        "filters": '{"stage": ["negotiating"], "stakeholder": ["cfo", "it"]}',
        "stage": "negotiating", "stakeholder": "it"})
    assert response.status_code == 302
    [request] = stored(app)
    assert (request.query, request.stage, request.stakeholder) == ("quantum", "negotiating", "it")


def test_the_no_results_request_refuses_an_unknown_stage_in_words(app, rep):
    token = page_token(rep, "/search?q=quantum")
    response = rep.post("/search/request", data={
        "csrf_token": token, "query": "quantum", "message": "Quantum pricing", "filters": "{}",
        "stage": "no-such-stage"}, follow_redirects=True)
    assert "Pick a stage from the list, or none." in response.get_data(as_text=True)
    assert stored(app) == []


def test_a_refused_request_keeps_what_was_typed(app, rep):
    response = ask(rep, "/requests/new", stage="no-such-stage", stakeholder="cfo",
                   message="x" * 2001)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Pick a stage from the list, or none." in page
    assert "x" * 2001 in page  # the words stay in the box
    assert '<option selected value="cfo">' in page
    response = ask(rep, "/requests/new", stage="negotiating", message="   ")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Say what you need and what it is for." in page
    assert '<option selected value="negotiating">' in page
    assert stored(app) == []


def test_a_request_needs_its_csrf_token(app, rep):
    response = rep.post("/requests/new", data={"message": "No token"})
    assert response.status_code == 400 and stored(app) == []


def test_managers_accept_then_complete_with_the_answering_item(app, rep, manager, make_item):
    ask(rep, "/requests/new", stage="negotiating", message="A pricing battle card")
    [request] = stored(app)
    listing = manager.get("/admin/requests").get_data(as_text=True)
    assert "A pricing battle card" in listing and "Rita Rep" in listing
    page = manager.get(f"/admin/requests/{request.id}").get_data(as_text=True)
    response = manager.post(f"/admin/requests/{request.id}", data={
        "csrf_token": csrf_from(page), "status": "accepted", "note": "Planned for next week"})
    assert response.status_code == 302
    [request] = stored(app)
    assert (request.status, request.note, request.decided_at is not None) == (
        "accepted", "Planned for next week", True)
    mine = rep.get("/requests/mine").get_data(as_text=True)
    assert "Accepted: being made" in mine and "by Mona Manager on" in mine
    assert "Planned for next week" in mine
    # Completing names the item; the rep gets a link to it.
    make_item("pricing-card", title="Pricing battle card", type="battle-card")
    page = manager.get(f"/admin/requests/{request.id}").get_data(as_text=True)
    assert '<option value="pricing-card">Pricing battle card</option>' in page
    manager.post(f"/admin/requests/{request.id}", data={
        "csrf_token": csrf_from(page), "status": "completed", "answer": "pricing-card"})
    [request] = stored(app)
    assert request.status == "completed"
    with app.app_context():
        assert db.session.get(ContentRequest, request.id).answered_by.slug == "pricing-card"
    mine = rep.get("/requests/mine").get_data(as_text=True)
    assert "Done" in mine and 'href="/content/pricing-card">Pricing battle card</a>' in mine
    # Done requests leave the to-do list and show under their status.
    assert "A pricing battle card" not in manager.get("/admin/requests").get_data(as_text=True)
    assert "A pricing battle card" in manager.get(
        "/admin/requests?status=completed").get_data(as_text=True)


@pytest.mark.parametrize("fields,reason", [
    ({"status": "completed"}, "Pick the item that answers the request."),
    ({"status": "completed", "answer": "draft-card"}, "Pick a published item"),
    ({"status": "declined"}, "Say why, so the rep knows what to do instead."),
    ({"status": "reopened"}, "Accept, decline or complete the request."),
    ({"status": "declined", "note": "n" * 2001}, "Field cannot be longer than 2000 characters."),
])
def test_a_refused_decision_keeps_what_was_chosen(app, rep, manager, make_item, fields, reason):
    make_item("draft-card", title="Draft card", status="draft")
    ask(rep, "/requests/new", message="Anything")
    [request] = stored(app)
    token = page_token(manager, f"/admin/requests/{request.id}")
    response = manager.post(f"/admin/requests/{request.id}", data={"csrf_token": token, **fields})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and reason in page
    if fields["status"] in ("completed", "declined"):
        assert 'checked id="status-' in page.split(f'value="{fields["status"]}"')[0][-60:]
    if fields.get("note"):
        assert fields["note"] in page
    assert stored(app)[0].status == "open"


def test_role_checks(app, rep, make_user, client):
    assert rep.get("/admin/requests").status_code == 403
    assert rep.get("/admin/requests/1").status_code == 403
    nav = rep.get("/requests/mine").get_data(as_text=True)
    assert '<a href="/requests/mine">My requests</a>' in nav
    champion = app.test_client()
    _, email = make_user("champion")
    log_in(champion, email)
    for path in ("/requests/new", "/requests/mine", "/admin/requests"):
        assert champion.get(path).status_code == 403
    assert "My requests" not in champion.get("/shared").get_data(as_text=True)


def test_an_unknown_request_is_a_404(manager):
    assert manager.get("/admin/requests/424242").status_code == 404


def test_a_request_from_an_item_the_rep_may_not_read_ignores_the_item(app, rep, make_item):
    make_item("secret-draft", status="draft")
    response = ask(rep, "/requests/new", item="secret-draft", message="Something")
    assert response.status_code == 302
    assert stored(app)[0].asked_from_id is None
