"""Champions: invitations, the deal room, what a share opens and for how long, and the item
form's warning about what a buyer sees."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from pathlib import Path

import docx
import pytest
from sqlalchemy import select, update

from content_library.models import ChampionInvitation, Deal, UsageEvent, utcnow
from content_library.services import users as user_service
from content_library.services.files import store_file
from content_library.services.items import ItemInput, save_item
from portal.extensions import db
from tests.champion_support import share
from tests.conftest import csrf_from, log_in, page_token

NEW_PASSWORD = "Lantern-Orchard-73"
LINK = re.compile(r"http://localhost/invitations/([A-Za-z0-9_-]+)")


@pytest.fixture
def rep(app, make_user):
    _, email = make_user("rep", email="rita@vendor.example", name="Rita Rep")
    client = app.test_client()
    assert log_in(client, email).status_code == 302
    return client


def add_deal(app, name="Acme - Forecasting", account="Acme Corp", closed=False) -> int:
    with app.app_context():
        deal = Deal(source="salesforce", crm_id=f"006{abs(hash(name)) % 10**12:012d}", name=name,
                    account=account, amount=50_000, crm_stage="Negotiating", stage="negotiating",
                    is_closed=closed, outcome="won" if closed else None)
        db.session.add(deal)
        db.session.commit()
        return deal.id


def invite(client, **fields):
    data = {"email": "buyer@acme.example", "name": "Bo Buyer", "company": "Acme Corp", "deal": "",
            **fields}
    token = page_token(client, "/invitations")
    return client.post("/invitations", data={**data, "csrf_token": token})


def token_from(response) -> str:
    match = LINK.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:3000]
    return match.group(1)


def accept(client, token, password=NEW_PASSWORD, repeat=None, name="Bo Buyer"):
    page = client.get(f"/invitations/{token}")
    assert page.status_code == 200, page.status_code
    return client.post(f"/invitations/{token}", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "name": name,
        "password": password, "repeat": repeat if repeat is not None else password})


def invitation(app, email="buyer@acme.example") -> ChampionInvitation:
    with app.app_context():
        found = db.session.scalars(select(ChampionInvitation).where(
            ChampionInvitation.email == email).order_by(ChampionInvitation.id.desc())).first()
        db.session.expunge_all()
        return found


# ---- invitations ------------------------------------------------------------------------------


def test_an_invitation_makes_a_champion_who_lands_in_their_deal_room(app, rep):
    answer = invite(rep)
    assert answer.status_code == 200
    token = token_from(answer)
    assert len(token) >= 43  # 256 bits from secrets, URL-safe
    assert 'class="copy"' in answer.get_data(as_text=True)  # no mail server: a link to copy
    stored = invitation(app)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with app.app_context(), db.engine.connect() as conn:  # the token itself is nowhere
        for table in ("champion_invitations", "users", "login_failures"):
            assert token not in repr(conn.exec_driver_sql(f"SELECT * FROM {table}").fetchall())

    buyer = app.test_client()
    page = buyer.get(f"/invitations/{token}")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Rita Rep invited you" in page.get_data(as_text=True)
    done = accept(buyer, token)
    assert done.status_code == 302 and done.headers["Location"] == "/shared"
    room = buyer.get("/shared").get_data(as_text=True)
    assert "Your deal room: Acme Corp" in room and "Welcome, Bo Buyer" in room
    with app.app_context():
        person = user_service.find_by_email(db.session, "buyer@acme.example")
        assert (person.role, person.company, person.name) == ("champion", "Acme Corp", "Bo Buyer")
    used = invitation(app)
    assert used.used_at is not None and used.user_id == person.id
    # the new champion logs in with the password they chose
    assert log_in(app.test_client(), "buyer@acme.example", NEW_PASSWORD).status_code == 302


def gone(response) -> str:
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "This invitation link no longer works" in text
    return re.sub(r'value="[^"]+"', "", text)


def test_a_used_expired_revoked_or_forged_link_is_the_same_friendly_404(app, rep):
    used = token_from(invite(rep, email="used@acme.example"))
    assert accept(app.test_client(), used).status_code == 302
    expired = token_from(invite(rep, email="late@acme.example"))
    with app.app_context():
        db.session.execute(update(ChampionInvitation).where(
            ChampionInvitation.email == "late@acme.example").values(
            expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    revoked = token_from(invite(rep, email="dropped@acme.example"))
    revoke = rep.post(f"/invitations/{invitation(app, 'dropped@acme.example').id}/revoke",
                      data={"csrf_token": page_token(rep, "/invitations")})
    assert revoke.status_code == 302
    forged = "A" * 43
    buyer = app.test_client()
    pages = {gone(buyer.get(f"/invitations/{token}")) for token in (used, expired, revoked, forged)}
    assert len(pages) == 1
    # a form posted to a dead link makes no one
    page_token(buyer, "/login")
    assert gone(buyer.post(f"/invitations/{expired}", data={
        "csrf_token": page_token(buyer, "/login"), "name": "Late", "password": NEW_PASSWORD,
        "repeat": NEW_PASSWORD}))
    with app.app_context():
        assert user_service.find_by_email(db.session, "late@acme.example") is None


def test_a_weak_or_mistyped_password_is_refused_and_the_link_still_works(app, rep):
    token = token_from(invite(rep))
    buyer = app.test_client()
    weak = accept(buyer, token, password="password")
    assert weak.status_code == 400 and "too common" in weak.get_data(as_text=True)
    differ = accept(buyer, token, repeat=NEW_PASSWORD + "x")
    assert differ.status_code == 400 and "passwords differ" in differ.get_data(as_text=True)
    assert invitation(app).used_at is None
    assert accept(buyer, token).status_code == 302


def test_an_email_with_an_account_is_told_to_the_rep_and_to_the_buyer(app, rep, make_user):
    make_user("champion", email="known@acme.example")
    answer = invite(rep, email="Known@Acme.example")
    assert answer.status_code == 400
    assert "already has an account" in answer.get_data(as_text=True)
    token = token_from(invite(rep, email="late.comer@acme.example"))
    make_user("rep", email="late.comer@acme.example")  # an account made meanwhile
    taken = accept(app.test_client(), token)
    assert taken.status_code == 400
    assert "already exists: log in" in taken.get_data(as_text=True)


def test_a_deal_gives_the_invitation_its_account_as_the_company(app, rep):
    deal_id = add_deal(app)
    closed = add_deal(app, name="Acme - Old", closed=True)
    form = rep.get("/invitations").get_data(as_text=True)
    assert f'value="{deal_id}" data-account="Acme Corp"' in form and "Acme - Old" not in form
    token = token_from(invite(rep, company="", deal=str(deal_id)))
    stored = invitation(app)
    assert (stored.company, stored.deal_id) == ("Acme Corp", deal_id)
    refused = invite(rep, email="x@acme.example", company="", deal=str(closed))
    assert refused.status_code == 400 and "open deals" in refused.get_data(as_text=True)
    assert invite(rep, email="y@acme.example", company="").status_code == 400  # no company at all
    narrowed = rep.get("/invitations?deal_filter=nothing-like-it").get_data(as_text=True)
    assert f'<option value="{deal_id}"' not in narrowed
    assert token


def test_a_new_invitation_replaces_the_waiting_one(app, rep):
    first = token_from(invite(rep))
    second = token_from(invite(rep))
    assert app.test_client().get(f"/invitations/{first}").status_code == 404
    assert app.test_client().get(f"/invitations/{second}").status_code == 200


def test_guessing_links_is_throttled_per_client(app, rep):
    token = token_from(invite(rep))
    guesser = app.test_client()
    answers = [guesser.get(f"/invitations/guess-{n:02d}" + "x" * 30).status_code for n in range(12)]
    assert answers[:10] == [404] * 10 and answers[10:] == [429, 429]
    throttled = guesser.get(f"/invitations/{token}")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    with app.app_context():  # an hour on, the window has passed
        from content_library.models import LoginFailure
        db.session.execute(update(LoginFailure).values(at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    assert guesser.get(f"/invitations/{token}").status_code == 200


def test_each_rep_sees_and_revokes_their_own_invitations(app, rep, make_user):
    token_from(invite(rep, email="waiting@acme.example"))
    accepted = token_from(invite(rep, email="joined@acme.example"))
    accept(app.test_client(), accepted)
    token_from(invite(rep, email="late@acme.example"))
    with app.app_context():
        db.session.execute(update(ChampionInvitation).where(
            ChampionInvitation.email == "late@acme.example").values(expires_at=utcnow()))
        db.session.commit()
    page = rep.get("/invitations").get_data(as_text=True)
    for email, state in (("waiting@", "Waiting"), ("joined@", "Accepted"), ("late@", "Expired")):
        row = page[page.index(email):]
        assert row[:row.index("</tr>")].count(state) == 1, email
    assert page.count("Revoke<span") == 1  # only the waiting one
    _, other_email = make_user("rep")
    other = app.test_client()
    log_in(other, other_email)
    assert "waiting@acme.example" not in other.get("/invitations").get_data(as_text=True)
    mine = invitation(app, "waiting@acme.example").id
    assert other.post(f"/invitations/{mine}/revoke",
                      data={"csrf_token": page_token(other, "/invitations")}).status_code == 404
    _, manager_email = make_user("manager")
    manager = app.test_client()
    log_in(manager, manager_email)
    assert "waiting@acme.example" in manager.get("/invitations").get_data(as_text=True)


def test_champions_and_visitors_cannot_invite(app, make_user):
    _, email = make_user("champion")
    champion = app.test_client()
    log_in(champion, email)
    assert champion.get("/invitations").status_code == 403
    assert "Champions</a>" not in champion.get("/shared").get_data(as_text=True)
    assert app.test_client().get("/invitations").status_code == 302


def test_with_a_mail_server_the_invitation_is_emailed(app, rep, smtp_server):
    url, inbox = smtp_server
    app.config.update(SMTP_URL=url, MAIL_FROM="portal@vendor.example")
    answer = invite(rep, email="mailed@acme.example", name="Mae Mailed")
    text = answer.get_data(as_text=True)
    assert "has the link in their mailbox" in text and "/invitations/" not in text
    [letter] = inbox.messages
    assert letter["To"] == "mailed@acme.example"
    assert letter["Reply-To"] == "rita@vendor.example"
    assert "Rita Rep" in letter["Subject"] and "portal@vendor.example" in letter["From"]
    body = letter.get_content()
    assert "Hello Mae Mailed," in body and "Acme Corp" in body
    token = LINK.search(body).group(1)
    assert accept(app.test_client(), token, name="Mae Mailed").status_code == 302


def test_a_mail_server_that_fails_leaves_the_link_to_copy(app, rep):
    app.config.update(SMTP_URL="smtp://127.0.0.1:9")  # nothing listens there
    answer = invite(rep)
    assert "could not be sent" in answer.get_data(as_text=True)
    assert accept(app.test_client(), token_from(answer)).status_code == 302


# ---- what a share opens -------------------------------------------------------------------------


@pytest.fixture
def shared(app, make_item, make_user):
    """Acme's company-wide link, a link to one Acme buyer, and a template library item."""
    for slug in ("acme-deck", "for-ann", "other-deck"):
        make_item(slug, title=f"Deck {slug}")
    _, rep_email = make_user("rep", email="sam@vendor.example")
    people = {name: make_user("champion", email=f"{name}@{co.lower()}.example", company=company)[1]
              for name, co, company in (("ann", "acme", "Acme Corp"), ("al", "acme", " acme corp "),
                                        ("bob", "globex", "Globex"))}
    deal_id = add_deal(app)
    share(app, ["acme-deck"], by=rep_email, to="someone@acme.example", company="ACME Corp",
          deal_id=deal_id, note="For your CFO")
    share(app, ["for-ann"], by=rep_email, to="Ann@Acme.example")
    return {"rep": rep_email, "deal": deal_id, **people}


def client_of(app, email):
    client = app.test_client()
    assert log_in(client, email).status_code == 302
    return client


def test_a_company_share_reaches_every_champion_of_that_company_only(app, shared):
    ann, al, bob = (client_of(app, shared[n]) for n in ("ann", "al", "bob"))
    assert ann.get("/content/acme-deck").status_code == 200
    assert al.get("/content/acme-deck").status_code == 200  # the same company, any case
    assert bob.get("/content/acme-deck").status_code == 404
    assert ann.get("/content/for-ann").status_code == 200  # sent to her e-mail, any case
    assert al.get("/content/for-ann").status_code == 404  # not to the company
    for client in (ann, al, bob):
        assert client.get("/content/other-deck").status_code == 404
    room = al.get("/shared").get_data(as_text=True)
    assert "Acme - Forecasting" in room and "For your CFO" in room and "for-ann" not in room
    assert "Nothing has been shared with you yet" in bob.get("/shared").get_data(as_text=True)


def test_a_deactivated_reps_links_stop_at_once(app, shared, make_user):
    ann = client_of(app, shared["ann"])
    assert ann.get("/content/acme-deck").status_code == 200
    with app.app_context():
        rep = user_service.find_by_email(db.session, shared["rep"])
        user_service.update_user(db.session, rep, name=rep.name, role="rep", active=False)
    for path in ("/content/acme-deck", "/api/v1/content/acme-deck", "/content/for-ann"):
        assert ann.get(path).status_code == 404, path
    assert "acme-deck" not in ann.get("/shared").get_data(as_text=True)
    assert ann.get("/api/v1/search").json["total"] == 0


def test_an_expired_or_revoked_link_opens_nothing(app, shared, make_item):
    make_item("late-deck")
    make_item("pulled-deck")
    share(app, ["late-deck"], by=shared["rep"], company="Acme Corp", days=-0.001)
    share(app, ["pulled-deck"], by=shared["rep"], company="Acme Corp", revoked=True)
    ann = client_of(app, shared["ann"])
    for slug in ("late-deck", "pulled-deck"):
        assert ann.get(f"/content/{slug}").status_code == 404
        assert slug not in ann.get("/shared").get_data(as_text=True)


def make_template(app, slug, tmp_path, **fields):
    document = docx.Document()
    document.add_paragraph("Business case for {{company_name}}")
    path = tmp_path / f"{slug}.docx"
    document.save(path)
    with app.app_context():
        attached = store_file(db.session, Path(app.config["UPLOAD_DIR"]),
                              io.BytesIO(path.read_bytes()), f"{slug}.docx")
        values = {"title": f"Template {slug}", "type": "case-study", "audience": "external",
                  "status": "published", "stages": ("understanding-offerings",), **fields}
        save_item(db.session, ItemInput(slug=slug, **values), None, file=attached)


def test_the_template_library_is_every_champions_and_only_what_is_published_external(
        app, shared, tmp_path):
    make_template(app, "business-case", tmp_path)
    make_template(app, "internal-case", tmp_path, audience="internal")
    make_template(app, "draft-case", tmp_path, status="draft")
    for name in ("ann", "bob"):
        client = client_of(app, shared[name])
        assert client.get("/content/business-case").status_code == 200
        download = client.get("/content/business-case/file")
        assert download.status_code == 200
        download.close()
        room = client.get("/shared").get_data(as_text=True)
        assert "Template business-case" in room
        for hidden in ("internal-case", "draft-case"):
            assert client.get(f"/content/{hidden}").status_code == 404
            assert f"Template {hidden}" not in room


def test_a_champions_views_count_for_the_deal_of_the_sharing_link(app, shared, tmp_path):
    make_template(app, "business-case", tmp_path)
    ann = client_of(app, shared["ann"])
    ann.get("/content/acme-deck")
    ann.get("/content/business-case/file").close()
    ann.get("/api/v1/content/acme-deck")
    with app.app_context():
        events = {(e.kind, e.item_slug): e.deal_id for e in db.session.scalars(
            select(UsageEvent).where(UsageEvent.role == "champion"))}
    assert events == {("view", "acme-deck"): shared["deal"],
                      ("download", "business-case"): None}


def test_a_rep_visiting_the_deal_room_is_sent_home(app, rep):
    assert rep.get("/shared").headers["Location"] == "/"


# ---- the item form's warning ---------------------------------------------------------------------

ARGUMENT = {"value_statement": "Trustworthy forecasts.", "discovery_questions": ["How today?"],
            "personal_advantages": ["Praise from the board."]}


def test_the_item_form_says_what_a_buyer_sees_of_an_external_argument(app, make_item, make_user,
                                                                       login):
    make_item("inside", audience="internal", argument=ARGUMENT)
    make_item("outside", audience="external", argument=ARGUMENT)
    client = login(make_user("manager")[1])
    inside = client.get("/content/inside/edit").get_data(as_text=True)
    outside = client.get("/content/outside/edit").get_data(as_text=True)
    assert 'id="audience-warning" data-shows-for-audience="external" hidden' in inside
    warning = outside[outside.index('id="audience-warning"'):]
    warning = warning[:warning.index("</div>")]
    assert "hidden" not in warning.split(">")[0]
    assert "a buyer sees Value statement; never Discovery questions, Personal advantages" in warning

    version = re.search(r'name="version" type="hidden" value="(\d+)"', inside).group(1)
    saved = client.post("/content/inside/edit", data={
        "csrf_token": csrf_from(inside), "title": "Inside", "slug": "inside", "type": "case-study",
        "audience": "external", "status": "published", "stages": "understanding-offerings",
        "version": version, "argument_value_statement": "Trustworthy forecasts.",
        "argument_discovery_questions": "How today?",
        "argument_personal_advantages": "Praise from the board."}, follow_redirects=True)
    text = saved.get_data(as_text=True)
    assert ("Now external: a buyer it is shared with sees Value statement; never Discovery "
            "questions, Personal advantages, which stay for reps.") in text
