"""The rep's side of share links: the share form (from an item, search results or a stage
page), the link shown once or sent by e-mail, what the buyer did, extend, revoke and undo;
and the notifications in the header."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select, update

from content_library.models import Deal, Notification, ShareLink, utcnow
from content_library.services import share_links
from portal.extensions import db
from tests.conftest import csrf_from
from tests.test_share_links import share, status, statuses, urls, world  # noqa: F401 (fixture)


@pytest.fixture
def rep(client, login, world):  # noqa: F811
    return login("rep@example.com")


@pytest.fixture
def closed_deal(app, world):  # noqa: F811
    with app.app_context():
        deal = Deal(source="salesforce", crm_id="006Z9", name="Zenith expansion",
                    account="Zenith", crm_stage="Closed Won", is_closed=True, outcome="won")
        db.session.add(deal)
        db.session.commit()
        return deal.id


def deal_id(app, crm_id: str = "006A1") -> int:
    with app.app_context():
        return db.session.scalar(select(Deal.id).where(Deal.crm_id == crm_id))


def links(app) -> list[ShareLink]:
    with app.app_context():
        return list(db.session.scalars(select(ShareLink).order_by(ShareLink.id)))


def form_for(client, query: str = "item=roi-story&item=cfo-brief") -> tuple[str, str]:
    page = client.get(f"/shares/new?{query}").get_data(as_text=True)
    return page, csrf_from(page)


def post_share(client, token: str, **fields):
    data = {"csrf_token": token, "offered": ["roi-story", "cfo-brief"],
            "items": ["roi-story", "cfo-brief"], "recipient": "cfo@acme.example",
            "expires_in_days": "14", "deal": "", "note": "", "allow_downloads": "y",
            "action": "share", **fields}
    return client.post("/shares/new", data=data)


def link_on(page: str) -> str:
    return unescape(re.search(r'<code id="share-url">([^<]+)</code>', page).group(1))


# ---- the form -----------------------------------------------------------------------------------


def test_the_form_takes_the_items_picked_and_says_what_it_leaves_out(app, rep):
    page, _ = form_for(rep, "item=roi-story&item=internal-one&item=draft-one&item=no-such-one")
    assert re.search(r'<input checked[^>]*name="items"[^>]*value="roi-story"', page)
    assert 'value="internal-one"' not in page.replace('name="offered" value="internal-one"', "")
    assert "is internal (staff only)" in page
    assert "2 of the items you picked are not available any more" in page
    assert "draft-one" not in page and "no-such-one" not in page


def test_a_refused_form_keeps_what_was_typed_with_the_errors_beside_the_fields(app, rep):
    _, token = form_for(rep)
    response = post_share(rep, token, items=["roi-story"], recipient="cfo at acme",
                          expires_in_days="ninety", note="Keep this note, please.",
                          deal=str(deal_id(app)))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="cfo at acme"' in page and "Keep this note, please." in page
    assert 'value="ninety"' in page
    assert re.search(r'<p class="error" id="recipient-error">Enter the recipient', page)
    assert re.search(r'<p class="error" id="expires_in_days-error">Choose how many days', page)
    assert re.search(rf'<option selected value="{deal_id(app)}">Acme renewal \(Acme\)', page)
    # The unticked item is still offered, unticked; the ticked one still ticked.
    assert re.search(r'<input checked[^>]*value="roi-story"', page)
    assert re.search(r'<input (?!checked)[^>]*name="items"[^>]*value="cfo-brief"', page)
    assert links(app) == []


@pytest.mark.parametrize("fields, field, words", [
    ({"items": []}, "items", "Choose at least one item"),
    ({"expires_in_days": "0"}, "expires_in_days", "from 1 to 90"),
    ({"expires_in_days": "91"}, "expires_in_days", "from 1 to 90"),
    ({"expires_in_days": "²"}, "expires_in_days", "from 1 to 90"),
    ({"note": "x" * 1001}, "note", "1000"),
    ({"deal": "99999"}, "deal", "Pick one of the open deals"),
    ({"items": ["roi-story", "draft-one"]}, "items", "no longer available"),
])
def test_each_refusal_is_in_words_never_a_500(app, rep, fields, field, words):
    _, token = form_for(rep)
    response = post_share(rep, token, **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error">[^<]*{re.escape(words)}', page.replace(",", "")), page
    assert links(app) == []


def test_a_closed_deal_is_not_offered_and_is_refused(app, rep, closed_deal):
    page, token = form_for(rep)
    assert "Acme renewal" in page and "Zenith expansion" not in page
    response = post_share(rep, token, deal=str(closed_deal))
    assert response.status_code == 400 and "Pick one of the open deals" in response.get_data(
        as_text=True)


def test_find_a_deal_without_script_keeps_the_form(app, rep):
    with app.app_context():
        db.session.add(Deal(source="salesforce", crm_id="006B2", name="Bolt pilot",
                            account="Bolt", crm_stage="Negotiation", stage="negotiating"))
        db.session.commit()
    _, token = form_for(rep)
    response = post_share(rep, token, action="find-deal", deal_q="bolt",
                          note="Still here", recipient="cfo@acme.example")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Bolt pilot" in page and "Acme renewal" not in page and "Still here" in page
    assert links(app) == []


def test_without_smtp_the_link_is_shown_once_to_copy(app, rep):
    page, token = form_for(rep)
    assert "E-mail the link" not in page and "copy into your own e-mail" in page
    response = post_share(rep, token, deal=str(deal_id(app)), note="As promised.")
    assert response.status_code == 302
    [link] = links(app)
    assert response.location == f"/shares/{link.id}"
    page = rep.get(response.location).get_data(as_text=True)
    url = link_on(page)
    assert 'data-copy-target="share-url"' in page and "Copy link" in page
    assert url.startswith("http://localhost/s/")
    assert "copy the link below" in page
    # Shown once: the portal keeps only its hash.
    assert "share-url" not in rep.get(response.location).get_data(as_text=True)
    buyer = app.test_client()
    landing = buyer.get(url.removeprefix("http://localhost")).get_data(as_text=True)
    assert "As promised." in landing and "Title of roi-story" in landing
    assert (link.deal_id, link.recipient_email, link.note, link.allow_downloads) == (
        deal_id(app), "cfo@acme.example", "As promised.", True)
    assert link.expires_at - link.created_at == timedelta(days=14)


def test_with_smtp_the_form_sends_the_link_with_the_note(app, rep, smtp_server):
    url, inbox = smtp_server
    app.config.update(SMTP_URL=url, MAIL_FROM="portal@example.com")
    page, token = form_for(rep)
    assert "E-mail the link to the recipient" in page
    response = post_share(rep, token, send_email="y", note="The ROI story we talked about.")
    assert response.status_code == 302
    [letter] = inbox.messages
    assert letter["To"] == "cfo@acme.example"
    assert letter["Reply-To"] == "rep@example.com"
    assert letter["From"] == "Rep Person <portal@example.com>"
    text = letter.get_content()
    assert "The ROI story we talked about." in text and "Title of cfo-brief" in text
    link = re.search(r"http://localhost(/s/\S+)", text).group(1)
    assert app.test_client().get(link).status_code == 200
    assert "is on its way to cfo@acme.example" in rep.get(response.location).get_data(as_text=True)


def test_a_failed_e_mail_still_shares_and_says_so(app, rep):
    app.config.update(SMTP_URL="smtp://127.0.0.1:9")  # nothing listens there
    _, token = form_for(rep)
    response = post_share(rep, token, send_email="y")
    page = rep.get(response.location).get_data(as_text=True)
    assert "the e-mail could not be sent" in page and "share-url" in page


# ---- following a link -------------------------------------------------------------------------


def test_the_activity_page_shows_opens_views_and_downloads(app, rep):
    share_id, token = share(app)
    buyer = app.test_client()
    assert statuses(buyer, urls(token)) == [200, 200, 200]
    app.extensions["usage"].flush()
    page = rep.get(f"/shares/{share_id}").get_data(as_text=True)
    assert "Link to cfo@acme.example" in page and "Acme renewal" in page
    assert "Opened the link" in page
    assert "Viewed “Title of roi-story”" in page and "Downloaded “Title of roi-story”" in page
    assert "1 time: first" in page
    listing = rep.get("/shares").get_data(as_text=True)
    assert "cfo@acme.example" in listing and "Title of cfo-brief" in listing
    assert "Acme renewal" in listing and "1 time" in listing and "Live" in listing


def test_reps_see_their_own_links_only(app, world, client, login):  # noqa: F811
    share_id, _ = share(app, email="other@example.com")
    login("rep@example.com")
    assert "cfo@acme.example" not in client.get("/shares").get_data(as_text=True)
    for path in (f"/shares/{share_id}", f"/shares/{share_id}/revoke"):
        assert client.get(path).status_code == 404
    token = csrf_from(client.get("/shares").get_data(as_text=True))
    for action in ("revoke", "undo", "extend"):
        response = client.post(f"/shares/{share_id}/{action}",
                               data={"csrf_token": token, "expires_in_days": "30"})
        assert response.status_code == 404
    assert links(app)[0].revoked_at is None
    client.post("/logout", data={"csrf_token": token})
    login("manager@example.com")
    assert client.get(f"/shares/{share_id}").status_code == 200


def test_extend_sets_a_new_expiry_from_now_within_1_to_90_days(app, rep):
    share_id, token = share(app, days=1)
    page = rep.get(f"/shares/{share_id}").get_data(as_text=True)
    csrf = csrf_from(page)
    refused = rep.post(f"/shares/{share_id}/extend",
                       data={"csrf_token": csrf, "expires_in_days": "120"})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert 'value="120"' in page and "from 1 to 90" in page
    with app.app_context():  # expire it: extending brings it back
        db.session.execute(update(ShareLink).values(expires_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    assert status(app.test_client(), f"/s/{token}") == 404
    assert "Make it work again" in rep.get(f"/shares/{share_id}").get_data(as_text=True)
    before = utcnow()
    done = rep.post(f"/shares/{share_id}/extend", data={"csrf_token": csrf, "expires_in_days": "30"})
    assert done.status_code == 302
    [link] = links(app)
    assert timedelta(days=30) - timedelta(seconds=5) <= link.expires_at - before <= \
        timedelta(days=30, seconds=5)
    assert status(app.test_client(), f"/s/{token}") == 200


def test_revoke_asks_first_then_ends_the_link_and_can_be_undone_for_a_while(app, rep):
    share_id, token = share(app)
    buyer = app.test_client()
    detail = rep.get(f"/shares/{share_id}").get_data(as_text=True)
    assert f'href="/shares/{share_id}/revoke"' in detail
    ask = rep.get(f"/shares/{share_id}/revoke")
    assert ask.status_code == 200 and "Revoke the link to cfo@acme.example?" in ask.get_data(
        as_text=True)
    assert status(buyer, f"/s/{token}") == 200  # asking changed nothing
    csrf = csrf_from(ask.get_data(as_text=True))
    assert rep.post(f"/shares/{share_id}/revoke", data={"csrf_token": csrf}).status_code == 302
    assert statuses(buyer, urls(token)) == [404, 404, 404]
    page = rep.get(f"/shares/{share_id}").get_data(as_text=True)
    assert "Revoked" in page and "Undo: make the link work again" in page
    assert rep.post(f"/shares/{share_id}/undo", data={"csrf_token": csrf}).status_code == 302
    assert statuses(buyer, urls(token)) == [200, 200, 200]
    # Too late to undo once the window has passed: revoked for good.
    rep.post(f"/shares/{share_id}/revoke", data={"csrf_token": csrf})
    with app.app_context():
        db.session.execute(update(ShareLink).values(
            revoked_at=utcnow() - share_links.UNDO_WINDOW - timedelta(seconds=1)))
        db.session.commit()
    assert "Revoked for good" in rep.get(f"/shares/{share_id}").get_data(as_text=True)
    undo = rep.post(f"/shares/{share_id}/undo", data={"csrf_token": csrf}, follow_redirects=True)
    assert "It is too late to undo" in undo.get_data(as_text=True)
    assert status(buyer, f"/s/{token}") == 404


# ---- notifications ------------------------------------------------------------------------------


def test_the_header_counts_unread_notifications_and_the_page_marks_them_read(app, rep):
    share_id, token = share(app)
    assert "count-badge" not in rep.get("/shares").get_data(as_text=True)
    app.test_client().get(f"/s/{token}")
    header = rep.get("/shares").get_data(as_text=True)
    assert re.search(r'class="count-badge">1<span class="visually-hidden"> unread', header)
    page = rep.get("/notifications").get_data(as_text=True)
    assert "Opened for the first time: the link you sent to cfo@acme.example (Acme renewal)" in page
    assert f'href="/shares/{share_id}"' in page and "New" in page
    assert "count-badge" not in page  # read by opening the page
    again = rep.get("/notifications").get_data(as_text=True)
    assert "Opened for the first time" in again and ">New<" not in again
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.read_at.is_(None))) == 0


# ---- where sharing starts -----------------------------------------------------------------------


def test_search_results_offer_share_selected_for_external_items(app, rep):
    page = rep.get("/search?q=title").get_data(as_text=True)
    assert '<form id="share-selected" method="get" action="/shares/new"' in page
    picks = re.findall(r'<input type="checkbox" name="item" value="([^"]+)" form="share-selected">',
                       page)
    assert sorted(picks) == ["cfo-brief", "roi-story"]  # never the internal one
    assert "Title of internal-one" in page


def test_the_stage_page_offers_share_selected(app, rep):
    page = rep.get("/stages/building-business-case").get_data(as_text=True)
    assert '<form id="share-selected" method="get" action="/shares/new"' in page
    picks = set(re.findall(r'name="item" value="([^"]+)" form="share-selected"', page))
    assert picks == {"cfo-brief", "roi-story"}


def test_the_item_page_offers_share_for_external_items_only(app, rep):
    assert "/shares/new?item=roi-story" in rep.get("/content/roi-story").get_data(as_text=True)
    assert "/shares/new" not in rep.get("/content/internal-one").get_data(as_text=True)


def test_champions_see_no_share_actions(app, world, client, login):  # noqa: F811
    login("champion@example.com")
    for path in ("/content/roi-story", "/search?q=title"):
        page = client.get(path).get_data(as_text=True)
        assert "share-selected" not in page and "/shares" not in page
    assert client.get("/notifications").status_code == 200


def test_a_line_break_in_a_name_or_title_cannot_break_the_e_mail(app, world, client, login,  # noqa: F811
                                                                  make_user, make_item,
                                                                  smtp_server):
    url, inbox = smtp_server
    app.config.update(SMTP_URL=url)
    make_item("two-lines", title="Two\nlines\r\nBcc: someone@evil.example")
    _, email = make_user("rep", name="Ana\nBcc: x@evil.example")
    login(email)
    _, token = form_for(client, "item=two-lines")
    response = post_share(client, token, offered=["two-lines"], items=["two-lines"],
                          send_email="y")
    assert response.status_code == 302
    [letter] = inbox.messages
    assert letter["Bcc"] is None
    assert letter["Subject"] == ("Ana Bcc: x@evil.example shared "
                                 "“Two lines Bcc: someone@evil.example” with you")
