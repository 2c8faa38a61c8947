"""Share links: the API of INTERFACES section 6, and what a link opens for a buyer with no
log-in, until it expires, is revoked, or its rep is deactivated (SECURITY promise 2)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from content_library.models import (
    REP_ONLY_ARGUMENT_FIELDS,
    Deal,
    LoginFailure,
    Notification,
    ShareLink,
    UsageEvent,
    utcnow,
)
from content_library.services import items as item_service
from content_library.services import share_links
from content_library.services import users as user_service
from content_library.services.files import store_file
from portal.extensions import db
from portal.shares.logs import HideShareTokens
from tests.browser_support import live_server
from tests.conftest import page_token
from tests.test_visibility import pdf_bytes

ARGUMENT = {
    "value_statement": "Forecasts the CFO can sign off.",
    "business_problems": ["Quarter-end surprises"],
    "discovery_questions": ["How often does the forecast miss? (rep only)"],
    "implication_questions": ["What does a miss cost you? (rep only)"],
    "personal_advantages": ["A calmer board meeting for you (rep only)"],
    "financial_justification": "Pays back in six months.",
}


def save(app, slug: str, *, with_file: bool = True, **fields) -> None:
    values = {"title": f"Title of {slug}", "summary": f"Summary of {slug}", "type": "case-study",
              "audience": "external", "status": "published",
              "stages": ("building-business-case",), "body": f"Body of {slug}", **fields}
    with app.app_context():
        attached = None
        if with_file:
            attached = store_file(db.session, Path(app.config["UPLOAD_DIR"]),
                                  io.BytesIO(pdf_bytes(slug)), f"{slug}.pdf")
        item_service.save_item(db.session, item_service.ItemInput(slug=slug, **values), None,
                               **({"file": attached} if attached else {}))


@pytest.fixture
def world(app, taxonomy, make_user):
    """Two external items (one stale, with an owner and every argument part), an internal
    one, a draft; a deal; two reps, a manager and a champion."""
    save(app, "roi-story", argument=ARGUMENT, owner="owner.person@example.com",
         review_by=date(2020, 1, 31))
    save(app, "cfo-brief")
    save(app, "internal-one", audience="internal")
    save(app, "draft-one", status="draft")
    with app.app_context():
        db.session.add(Deal(source="salesforce", crm_id="006A1", name="Acme renewal",
                            account="Acme", crm_stage="Negotiation", stage="negotiating"))
        db.session.commit()
    people = {role: make_user(role, email=f"{role}@example.com", name=f"{role.title()} Person")
              for role in ("rep", "manager", "champion")}
    people["other"] = make_user("rep", email="other@example.com", name="Other Rep")
    return people


def bearer(app, email: str) -> dict:
    with app.app_context():
        return {"Authorization": f"Bearer {user_service.issue_token(db.session, email)}"}


def body(**changes) -> dict:
    return {"content": ["roi-story", "cfo-brief"], "deal": "006A1",
            "recipient": "cfo@acme.example", "expires_in_days": 7, **changes}


def share(app, email: str = "rep@example.com", slugs=("roi-story", "cfo-brief"),
          deal: str | None = "006A1", days: int = 7, **extra) -> tuple[int, str]:
    """A link made through the service: (id, token)."""
    with app.app_context():
        rep = user_service.find_by_email(db.session, email)
        found = db.session.scalar(select(Deal).where(Deal.crm_id == deal)) if deal else None
        link, token = share_links.create(db.session, rep, share_links.ShareRequest(
            content=tuple(slugs), recipient="cfo@acme.example", expires_in_days=days,
            deal=found, **extra))
        return link.id, token


def urls(token: str, slug: str = "roi-story") -> list[str]:
    return [f"/s/{token}", f"/s/{token}/items/{slug}", f"/s/{token}/items/{slug}/download"]


def status(client, path: str, **options) -> int:
    """The status of a GET, its answer closed (a download holds its file open until then)."""
    response = client.get(path, **options)
    response.close()
    return response.status_code


def statuses(client, paths: list[str]) -> list[int]:
    return [status(client, path) for path in paths]


def events(app, *kinds: str) -> list[UsageEvent]:
    with app.app_context():
        return list(db.session.scalars(select(UsageEvent).where(UsageEvent.kind.in_(kinds))
                                       .order_by(UsageEvent.id)))


def without_request_id(response) -> str:
    return re.sub(r"[0-9a-f]{12}", "", response.get_data(as_text=True))


# ---- the API -----------------------------------------------------------------------------------


def test_post_shares_answers_201_with_id_url_and_expiry(app, world):
    client = app.test_client()
    before = utcnow()
    response = client.post("/api/v1/shares", headers=bearer(app, "rep@example.com"), json=body())
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert set(answer) == {"id", "url", "expires_at"}
    expires = datetime.fromisoformat(answer["expires_at"].removesuffix("Z"))
    assert timedelta(days=7) - timedelta(seconds=5) <= expires - before <= timedelta(days=7, seconds=5)
    token = answer["url"].rsplit("/s/", 1)[1]
    assert len(token) >= 43  # 32 bytes from secrets, base64: 256 bits
    assert client.get(f"/s/{token}").status_code == 200
    with app.app_context():
        link = db.session.get(ShareLink, answer["id"])
        # Stored only as its SHA-256: the token itself is in no column of the table.
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
        row = db.session.execute(select(ShareLink.__table__).where(
            ShareLink.id == link.id)).one()
        assert token not in repr(tuple(row))
        assert [i.slug for i in link.items] == ["roi-story", "cfo-brief"]
        assert (link.recipient_email, link.deal.crm_id, link.company) == (
            "cfo@acme.example", "006A1", "Acme")
    # A `share` event per item, with the rep and the deal.
    shared = events(app, "share")
    assert [(e.item_slug, e.role, e.details) for e in shared] == [
        ("roi-story", "rep", {"share": answer["id"]}), ("cfo-brief", "rep", {"share": answer["id"]})]
    assert {e.user_id for e in shared} == {world["rep"][0]}
    with app.app_context():
        assert {db.session.get(Deal, e.deal_id).crm_id for e in shared} == {"006A1"}


def test_a_share_without_a_deal(app, world):
    response = app.test_client().post("/api/v1/shares", headers=bearer(app, "rep@example.com"),
                                      json=body(deal=None, content=["cfo-brief"]))
    assert response.status_code == 201
    assert [e.deal_id for e in events(app, "share")] == [None]


def test_a_cookie_call_needs_the_csrf_token(app, client, world, login):
    login("rep@example.com")
    assert client.post("/api/v1/shares", json=body()).status_code == 400
    token = page_token(client, "/account")
    response = client.post("/api/v1/shares", json=body(), headers={"X-CSRFToken": token})
    assert response.status_code == 201


@pytest.mark.parametrize("changes, words", [
    ({"content": ["internal-one"]}, "internal-one"),
    ({"content": ["roi-story", "internal-one"]}, "internal-one"),
    ({"content": []}, "at least one item"),
    ({"expires_in_days": 0}, "1 to 90"),
    ({"expires_in_days": 91}, "1 to 90"),
    ({"expires_in_days": "7"}, "expires_in_days"),
    ({"expires_in_days": True}, "expires_in_days"),
    ({"recipient": "not an e-mail"}, "e-mail"),
    ({"recipient": None}, "recipient"),
    ({"content": "roi-story"}, "list of item slugs"),
    ({"deal": 6}, "CRM id"),
    ({"token": "x"}, "Unknown field 'token'"),
])
def test_a_bad_body_answers_400_in_words(app, world, changes, words):
    response = app.test_client().post("/api/v1/shares", headers=bearer(app, "rep@example.com"),
                                      json=body(**changes))
    assert response.status_code == 400
    assert set(response.get_json()) == {"error", "request_id"}
    assert words in response.get_json()["error"]
    assert events(app, "share") == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ShareLink)) == 0


def test_not_json_answers_400(app, world):
    response = app.test_client().post("/api/v1/shares", headers=bearer(app, "rep@example.com"),
                                      data="content=roi-story")
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]


def test_an_item_the_caller_may_not_see_answers_404_like_a_missing_one(app, world):
    client, headers = app.test_client(), bearer(app, "rep@example.com")
    hidden = client.post("/api/v1/shares", headers=headers, json=body(content=["draft-one"]))
    missing = client.post("/api/v1/shares", headers=headers, json=body(content=["no-such-one"]))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["error"].replace("draft-one", "X") == \
        missing.get_json()["error"].replace("no-such-one", "X")
    # A manager reads drafts: to them the draft is there, and not shareable.
    response = client.post("/api/v1/shares", headers=bearer(app, "manager@example.com"),
                           json=body(content=["draft-one"]))
    assert response.status_code == 400 and "draft-one" in response.get_json()["error"]
    assert "not published" in response.get_json()["error"]


def test_an_unknown_deal_answers_404(app, world):
    response = app.test_client().post("/api/v1/shares", headers=bearer(app, "rep@example.com"),
                                      json=body(deal="006-NOPE"))
    assert response.status_code == 404 and "006-NOPE" in response.get_json()["error"]


def test_champions_cannot_share(app, world, client, login):
    headers = bearer(app, "champion@example.com")
    response = app.test_client().post("/api/v1/shares", headers=headers,
                                      json=body(deal=None, content=["cfo-brief"]))
    assert response.status_code == 403 and set(response.get_json()) == {"error", "request_id"}
    share_id, _ = share(app)
    assert app.test_client().delete(f"/api/v1/shares/{share_id}",
                                    headers=headers).status_code == 403
    login("champion@example.com")
    assert client.get("/shares/new?item=cfo-brief").status_code == 403
    assert client.get("/shares").status_code == 403


def test_delete_revokes_at_once_and_every_url_of_the_link_dies(app, world):
    share_id, token = share(app)
    client = app.test_client()
    assert statuses(client, urls(token)) == [200, 200, 200]
    response = client.delete(f"/api/v1/shares/{share_id}", headers=bearer(app, "rep@example.com"))
    assert response.status_code == 204
    assert statuses(client, urls(token)) == [404, 404, 404]
    with app.app_context():
        assert db.session.get(ShareLink, share_id).revoked_at is not None


def test_someone_elses_share_id_answers_404_and_changes_nothing(app, world):
    share_id, token = share(app)
    client = app.test_client()
    other = bearer(app, "other@example.com")
    response = client.delete(f"/api/v1/shares/{share_id}", headers=other)
    assert response.status_code == 404 and set(response.get_json()) == {"error", "request_id"}
    assert client.delete("/api/v1/shares/999", headers=other).status_code == 404
    assert client.get(f"/s/{token}").status_code == 200
    # A manager looks after everyone's links.
    assert client.delete(f"/api/v1/shares/{share_id}",
                         headers=bearer(app, "manager@example.com")).status_code == 204
    assert client.get(f"/s/{token}").status_code == 404


# ---- when a link stops working -------------------------------------------------------------------


def test_an_expired_link_answers_404_everywhere(app, world):
    share_id, token = share(app)
    client = app.test_client()
    assert client.get(f"/s/{token}").status_code == 200
    with app.app_context():
        db.session.execute(update(ShareLink).where(ShareLink.id == share_id)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert statuses(client, urls(token)) == [404, 404, 404]


def test_a_forged_token_answers_the_same_friendly_404(app, world):
    share_id, token = share(app)
    client = app.test_client()
    forged = client.get("/s/" + "A" * 43)
    assert forged.status_code == 404
    page = forged.get_data(as_text=True)
    assert "This link is not available" in page and "Ask them for a new link" in page
    assert forged.headers["Referrer-Policy"] == "no-referrer"
    assert forged.headers["Cache-Control"] == "no-store"
    for path in ("/s/x", "/s/" + token[:-1] + ("A" if token[-1] != "A" else "B"),
                 f"/s/{token}x/items/roi-story/download"):
        assert status(client, path) == 404
    client.delete(f"/api/v1/shares/{share_id}", headers=bearer(app, "rep@example.com"))
    # Revoked, expired and forged look exactly alike.
    assert client.get(f"/s/{token}").get_data() == forged.get_data()


def test_a_link_dies_with_its_reps_account(app, world):
    _, token = share(app)
    client = app.test_client()
    assert client.get(f"/s/{token}").status_code == 200
    with app.app_context():
        rep = user_service.find_by_email(db.session, "rep@example.com")
        user_service.update_user(db.session, rep, name=rep.name, role=rep.role, active=False)
    assert statuses(client, urls(token)) == [404, 404, 404]


def test_downloads_switched_off_show_no_button_and_the_url_404s(app, world):
    _, token = share(app, allow_downloads=False)
    client = app.test_client()
    for path in urls(token)[:2]:
        page = client.get(path).get_data(as_text=True)
        assert "/download" not in page and "Download" not in page
    assert status(client, urls(token)[2]) == 404
    _, token = share(app)
    page = client.get(f"/s/{token}").get_data(as_text=True)
    assert f"/s/{token}/items/roi-story/download" in page


def test_an_item_unpublished_or_made_internal_after_sharing_disappears(app, world):
    _, token = share(app)
    client = app.test_client()
    with app.app_context():
        item = item_service.get_item(db.session, "roi-story")
        item_service.change_status(db.session, item, "archived", None)
        brief = item_service.get_item(db.session, "cfo-brief")
        data = item_service.input_from_snapshot(item_service.snapshot(brief))
        item_service.save_item(db.session, replace(data, audience="internal"), None,
                               existing=brief)
    landing = client.get(f"/s/{token}")
    assert landing.status_code == 200
    page = landing.get_data(as_text=True)
    assert "Title of roi-story" not in page and "Title of cfo-brief" not in page
    assert "Nothing to show here any more" in page
    for slug in ("roi-story", "cfo-brief"):
        assert statuses(client, urls(token, slug)[1:]) == [404, 404]


def test_only_the_items_shared_open_through_the_link(app, world):
    _, token = share(app, slugs=("cfo-brief",))
    client = app.test_client()
    assert client.get(f"/s/{token}/items/cfo-brief").status_code == 200
    for slug in ("roi-story", "internal-one", "draft-one"):
        assert statuses(client, urls(token, slug)[1:]) == [404, 404]


# ---- what the buyer sees -------------------------------------------------------------------------


def test_share_pages_show_no_internal_signals_and_no_rep_only_parts(app, world):
    _, token = share(app, note="Here is what we discussed on Tuesday.")
    client = app.test_client()
    landing = client.get(f"/s/{token}").get_data(as_text=True)
    assert "Here is what we discussed on Tuesday." in landing
    assert "Rep Person" in landing  # who shared it
    page = client.get(f"/s/{token}/items/roi-story").get_data(as_text=True)
    assert "Forecasts the CFO can sign off." in page and "Pays back in six months." in page
    for shown in (landing, page):
        for internal in ("Needs review", "review", "owner.person@example.com", "Owner",
                         "Version", "history", "Internal", "Views", "views", "Copy",
                         "copy any part", "Acme renewal", "Used in", "Ask marketing",
                         "Log out", "Deal stages", "(rep only)", "Discovery questions",
                         "Implication questions", "Personal advantages"):
            assert internal not in shown, internal
    for field in REP_ONLY_ARGUMENT_FIELDS:
        for text in ARGUMENT[field]:
            assert text not in page


def test_share_pages_keep_their_address_private(app, world):
    _, token = share(app)
    client = app.test_client()
    for path in urls(token):
        response = client.get(path)
        response.close()
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    download = client.get(urls(token)[2])
    assert download.headers["Content-Disposition"] == "attachment; filename=roi-story.pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.get_data().startswith(b"%PDF")
    download.close()


def test_opens_views_and_downloads_are_usage_events_with_the_deal(app, world):
    share_id, token = share(app)
    client = app.test_client()
    assert statuses(client, urls(token)) == [200, 200, 200]
    app.extensions["usage"].flush()
    buyer = events(app, "share_open", "view", "download")
    assert [(e.kind, e.item_slug) for e in buyer] == [
        ("share_open", "roi-story"), ("share_open", "cfo-brief"), ("view", "roi-story"),
        ("download", "roi-story")]
    with app.app_context():
        deal_id = db.session.scalar(select(Deal.id).where(Deal.crm_id == "006A1"))
    assert {(e.deal_id, e.user_id, e.stage) for e in buyer} == {(deal_id, None, "negotiating")}
    assert all(e.details == {"share": share_id} for e in buyer)
    with app.app_context():
        link = db.session.get(ShareLink, share_id)
        assert link.open_count == 1 and link.first_opened_at is not None


def test_the_rep_checking_their_own_link_is_not_counted(app, world, client, login):
    share_id, token = share(app)
    login("rep@example.com")
    page = client.get(f"/s/{token}").get_data(as_text=True)
    assert "You are seeing what your buyer sees" in page
    client.get(f"/s/{token}/items/roi-story")
    app.extensions["usage"].flush()
    assert events(app, "share_open", "view", "download") == []
    with app.app_context():
        assert db.session.get(ShareLink, share_id).open_count == 0
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_the_first_open_tells_the_rep_once_in_the_portal_and_by_e_mail(app, world, smtp_server):
    url, inbox = smtp_server
    app.config.update(SMTP_URL=url, MAIL_FROM="portal@example.com")
    share_id, token = share(app)
    buyer = app.test_client()
    for _ in range(3):
        assert buyer.get(f"/s/{token}").status_code == 200
    with app.app_context():
        notes = list(db.session.scalars(select(Notification)))
        assert [(n.user_id, n.link, n.read_at) for n in notes] == [
            (world["rep"][0], f"/shares/{share_id}", None)]
        assert "cfo@acme.example" in notes[0].message
        assert db.session.get(ShareLink, share_id).open_count == 3
    [letter] = inbox.messages
    assert letter["To"] == "rep@example.com"
    assert "cfo@acme.example" in letter["Subject"]
    assert f"/shares/{share_id}" in letter.get_content()
    assert token not in letter.get_content()


# ---- abuse ---------------------------------------------------------------------------------------


def test_forged_tokens_are_throttled_per_address_with_retry_after(app, world):
    _, token = share(app)
    client = app.test_client()
    for n in range(share_links.MISS_LIMIT):
        assert client.get(f"/s/forged-token-number-{n:04d}").status_code == 404
    refused = client.get(f"/s/forged-token-number-{999:04d}")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    assert refused.headers["Referrer-Policy"] == "no-referrer"
    assert "Too many requests" in refused.get_data(as_text=True)
    # Even the real link waits now, from that address; another address is not held up.
    assert client.get(f"/s/{token}").status_code == 429
    other = app.test_client()
    assert other.get(f"/s/{token}", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200
    with app.app_context():  # counted in the database, where every worker process sees it
        assert db.session.scalar(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.key == "share-miss:127.0.0.1")) == share_links.MISS_LIMIT


def test_opening_a_real_link_is_throttled_too(app, world, monkeypatch):
    monkeypatch.setattr(share_links, "OPEN_LIMIT", 5)
    _, token = share(app)
    client = app.test_client()
    assert [client.get(f"/s/{token}").status_code for _ in range(6)] == [200] * 5 + [429]
    # The window passes: the address may open it again.
    with app.app_context():
        db.session.execute(update(LoginFailure).values(at=LoginFailure.at - timedelta(minutes=16)))
        db.session.commit()
    assert client.get(f"/s/{token}").status_code == 200


def test_tokens_never_reach_the_access_log(app, world, caplog):
    _, token = share(app)
    caplog.set_level(logging.INFO, logger="werkzeug")
    with live_server(app) as base:
        for path in urls(token) + [f"/s/{token}?x=1", "/login?next=/s/" + token]:
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(base + path).read()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "GET /s/[token hidden]/items/roi-story/download" in logged  # the real access log
    assert token not in logged
    assert token not in caplog.text


def test_the_filter_hides_tokens_in_gunicorns_access_log_format(app):
    # Gunicorn logs `access_log_format % atoms`, handing the atoms as one dict of arguments.
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1,
                               '%(h)s "%(r)s" %(s)s "%(f)s"',
                               ({"h": "203.0.113.9", "r": "GET /s/Secret_Token-123/items/a HTTP/1.1",
                                 "s": "200", "f": "https://portal.example/s/Secret_Token-123"},),
                               None)
    assert HideShareTokens().filter(record) is True
    assert "Secret_Token-123" not in record.getMessage()
    assert record.getMessage() == ('203.0.113.9 "GET /s/[token hidden]/items/a HTTP/1.1" 200 '
                                   '"https://portal.example/s/[token hidden]"')
    for name in ("werkzeug", "gunicorn.access"):
        assert any(isinstance(f, HideShareTokens) for f in logging.getLogger(name).filters)
