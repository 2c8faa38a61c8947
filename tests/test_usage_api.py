"""POST /api/v1/usage exactly as INTERFACES section 6 writes it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from content_library.models import Deal, UsageEvent
from content_library.services import users as user_service
from portal.extensions import db
from tests.conftest import page_token


def events(app) -> list[UsageEvent]:
    with app.app_context():
        return list(db.session.scalars(select(UsageEvent).order_by(UsageEvent.id)))


@pytest.fixture
def deal(app, taxonomy):
    with app.app_context():
        db.session.add(Deal(source="salesforce", crm_id="006A1", name="Acme renewal",
                            crm_stage="Negotiation", stage="negotiating"))
        db.session.commit()
    return "006A1"


@pytest.fixture
def bearer(app, make_user):
    def issue(role: str = "rep") -> dict:
        _, email = make_user(role)
        with app.app_context():
            return {"Authorization": f"Bearer {user_service.issue_token(db.session, email)}"}

    return issue


@pytest.mark.parametrize("kind", ["view", "download", "share", "copy", "used_in_deal"])
def test_each_kind_answers_201_and_is_stored(app, make_item, deal, bearer, kind):
    make_item("roi-story")
    response = app.test_client().post("/api/v1/usage", headers=bearer(),
                                      json={"kind": kind, "content": "roi-story", "deal": deal})
    assert response.status_code == 201, response.get_json()
    [event] = events(app)
    assert (event.kind, event.item_slug, event.role, event.stage) == (
        kind, "roi-story", "rep", "negotiating")  # the deal's stage is the context
    with app.app_context():
        assert db.session.get(Deal, event.deal_id).crm_id == deal


def test_the_deal_may_be_null_or_left_out(app, make_item, bearer):
    make_item("roi-story")
    client, headers = app.test_client(), bearer()
    assert client.post("/api/v1/usage", headers=headers,
                       json={"kind": "view", "content": "roi-story", "deal": None}).status_code == 201
    assert client.post("/api/v1/usage", headers=headers,
                       json={"kind": "copy", "content": "roi-story"}).status_code == 201
    assert [(e.kind, e.deal_id) for e in events(app)] == [("view", None), ("copy", None)]


@pytest.mark.parametrize("body", [
    {"kind": "like", "content": "roi-story"},
    {"kind": "search", "content": "roi-story"},  # recorded by the portal, not reported
    {"content": "roi-story"},
    {"kind": "view"},
    {"kind": "view", "content": ["roi-story"]},
    {"kind": "view", "content": "roi-story", "deal": 6},
    {"kind": "view", "content": "roi-story", "user_id": 1},
    ["view", "roi-story"],
    "view",
])
def test_a_bad_body_answers_400_with_an_error(app, make_item, bearer, body):
    make_item("roi-story")
    response = app.test_client().post("/api/v1/usage", headers=bearer(), json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert events(app) == []


def test_a_body_that_is_not_json_answers_400(app, make_item, bearer):
    make_item("roi-story")
    response = app.test_client().post("/api/v1/usage", headers=bearer(), data="kind=view",
                                      content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "error" in response.get_json()


def test_hidden_missing_items_and_unknown_deals_answer_the_same_404(app, make_item, deal, bearer):
    make_item("internal-notes", audience="internal")
    make_item("roi-story")
    client, champion = app.test_client(), bearer("champion")
    answers = [
        client.post("/api/v1/usage", headers=champion,
                    json={"kind": "view", "content": "internal-notes", "deal": None}),
        client.post("/api/v1/usage", headers=champion,
                    json={"kind": "view", "content": "no-such-item", "deal": None}),
        client.post("/api/v1/usage", headers=bearer(),
                    json={"kind": "used_in_deal", "content": "roi-story", "deal": "006-nope"}),
        # A champion learns nothing of the seller's deals, not even that one exists.
        client.post("/api/v1/usage", headers=champion,
                    json={"kind": "view", "content": "roi-story", "deal": deal}),
    ]
    assert [a.status_code for a in answers] == [404] * 4
    assert len({a.get_json()["error"] for a in answers}) == 1
    assert events(app) == []


def test_a_session_cookie_call_needs_the_csrf_header(app, client, make_item, make_user, login):
    make_item("roi-story")
    _, email = make_user("rep")
    login(email)
    body = {"kind": "copy", "content": "roi-story", "deal": None}
    assert client.post("/api/v1/usage", json=body).status_code == 400
    assert events(app) == []
    token = page_token(client, "/account")
    assert client.post("/api/v1/usage", json=body, headers={"X-CSRFToken": token}).status_code == 201
    assert [e.kind for e in events(app)] == ["copy"]


def test_without_credentials_it_answers_401(app, make_item):
    make_item("roi-story")
    response = app.test_client().post("/api/v1/usage", json={"kind": "view", "content": "roi-story"})
    assert response.status_code in (400, 401)
    assert events(app) == []
