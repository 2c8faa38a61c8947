"""The deals pages: managers import CRM exports and map stage names; reps record the content
they used in a deal, and take it back."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from content_library.models import ContentItem, CrmStageMapping, Deal, DealStageEntry, UsageEvent
from portal.extensions import db
from tests.conftest import PASSWORD, csrf_from, page_token

EXPORTS = Path(__file__).parent / "crm_exports"


def add_deal(app, crm_id: str, name: str, account: str = "", closed: bool = False,
             crm_stage: str = "Negotiating", stage: str | None = "negotiating") -> int:
    with app.app_context():
        deal = Deal(source="salesforce", crm_id=crm_id, name=name, account=account,
                    crm_stage=crm_stage, stage=stage, is_closed=closed,
                    outcome="won" if closed else None, close_date=date(2026, 10, 1))
        db.session.add(deal)
        db.session.commit()
        return deal.id


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def used_in_deal_events(app, user_id: int | None = None) -> list[tuple]:
    """The `used_in_deal` events, or those of one person."""
    query = (select(UsageEvent.item_slug, UsageEvent.deal_id, UsageEvent.stage, UsageEvent.role)
             .where(UsageEvent.kind == "used_in_deal").order_by(UsageEvent.id))
    if user_id is not None:
        query = query.where(UsageEvent.user_id == user_id)
    with app.app_context():
        return list(db.session.execute(query))


# ---- the import page -------------------------------------------------------------------------


def checked_format(page: str) -> str:
    return re.search(r'<input checked [^>]*value="(\w+)"', page).group(1)


def upload(client, token: str, **fields):
    data = {"csrf_token": token, "crm_format": "salesforce", "action": "preview"}
    for name in ("deals", "history"):
        if name in fields:
            file_name, text = fields.pop(name)
            data[name] = (io.BytesIO(text.encode()), file_name)
    data.update(fields)
    return client.post("/deals/import", data=data, content_type="multipart/form-data")


def test_import_page_previews_counts_then_imports(app, client, make_user, login, taxonomy):
    _, email = make_user("manager")
    login(email)
    token = page_token(client, "/deals/import")
    deals_csv = (EXPORTS / "salesforce_api.csv").read_text()
    history_csv = (EXPORTS / "opportunity_history.csv").read_text()
    preview = upload(client, token, deals=("opportunities.csv", deals_csv),
                     history=("history.csv", history_csv))
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200, page
    assert "Preview: nothing is imported yet" in page and "5 new deals" in page
    assert "From opportunities.csv and history.csv" in page and "Qualification: 1 deal" in page
    assert count(app, Deal) == 0  # a preview stores nothing
    staged = csrf_from(page), page.split('name="staged" type="hidden" value="')[1].split('"')[0]
    done = client.post("/deals/import", data={"csrf_token": staged[0], "staged": staged[1],
                                              "crm_format": "salesforce", "action": "import"})
    assert done.status_code == 302 and done.location.endswith("/deals/stages")  # unmapped names
    assert count(app, Deal) == 5 and count(app, DealStageEntry) > 0
    assert "Imported: created 5" in client.get("/deals/stages").get_data(as_text=True)
    # The staged files went with the import: confirming twice imports nothing more.
    again = client.post("/deals/import", data={"csrf_token": staged[0], "staged": staged[1],
                                               "crm_format": "salesforce", "action": "import"})
    assert again.status_code == 400 and "choose the file again" in again.get_data(as_text=True)


def test_import_page_names_bad_rows_by_line_imports_nothing_and_keeps_the_choice(
        app, client, make_user, login, taxonomy):
    _, email = make_user("manager")
    login(email)
    token = page_token(client, "/deals/import")
    text = (EXPORTS / "hubspot.csv").read_text().splitlines()
    text[2] = text[2].replace("48000.50", "forty-eight thousand")
    response = upload(client, token, crm_format="hubspot", deals=("deals.csv", "\n".join(text)))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Nothing was imported" in page and "deals.csv line 3: Amount" in page
    assert checked_format(page) == "hubspot"
    assert "Refused: deals.csv" in page
    assert count(app, Deal) == 0


def test_import_page_without_a_file_says_so(client, make_user, login):
    _, email = make_user("manager")
    login(email)
    response = upload(client, page_token(client, "/deals/import"), crm_format="hubspot")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Choose the CSV file your CRM exported" in page
    assert checked_format(page) == "hubspot"


@pytest.mark.parametrize("role", ["rep", "champion"])
def test_only_managers_import_and_map(client, make_user, login, role):
    _, email = make_user(role)
    login(email)
    assert client.get("/deals/import").status_code == 403
    assert client.get("/deals/stages").status_code == 403


def test_import_page_needs_a_log_in(client):
    assert client.get("/deals/import").status_code == 302


# ---- CRM stage names -------------------------------------------------------------------------


def test_stage_page_lists_unmapped_names_with_counts_and_remaps_on_save(
        app, client, make_user, login, taxonomy):
    add_deal(app, "1", "Acme rollout", crm_stage="Qualification", stage=None)
    add_deal(app, "2", "Globex renewal", crm_stage="Qualification", stage=None)
    add_deal(app, "3", "Initech", crm_stage="Closed Won", stage=None, closed=True)
    add_deal(app, "4", "Umbrella", crm_stage="Negotiating")
    _, email = make_user("manager")
    login(email)
    page = client.get("/deals/stages").get_data(as_text=True)
    assert "1 unmapped</strong>: Qualification (2 deals)" in page
    closings = page.split("<h2>Closings</h2>")[1]
    assert "Closed Won: 1 deal" in closings
    assert 'value="Closed Won"' not in page  # a closing has no select
    assert "Same name: Negotiating" in page
    response = client.post("/deals/stages", data={
        "csrf_token": csrf_from(page), "crm_stage": ["Qualification", "Negotiating"],
        "stage": ["understanding-offerings", ""]})
    assert response.status_code == 302
    with app.app_context():
        assert {d.crm_id: d.stage for d in db.session.scalars(select(Deal))} == {
            "1": "understanding-offerings", "2": "understanding-offerings", "3": None,
            "4": "negotiating"}
        assert [(m.crm_stage, m.stage) for m in db.session.scalars(select(CrmStageMapping))] == [
            ("Qualification", "understanding-offerings")]
    page = client.get("/deals/stages").get_data(as_text=True)
    assert "Every stage name maps to a portal stage" in page
    # Back to matching by name: the empty choice removes the manager's mapping.
    client.post("/deals/stages", data={"csrf_token": csrf_from(page), "crm_stage": "Qualification",
                                       "stage": ""})
    assert count(app, CrmStageMapping) == 0 and count(app, Deal, Deal.stage.is_(None)) == 3


def test_stage_page_refuses_unknown_stages_and_closings_keeping_the_choices(
        app, client, make_user, login, taxonomy):
    add_deal(app, "1", "Acme rollout", crm_stage="Qualification", stage=None)
    add_deal(app, "2", "Globex", crm_stage="Discovery", stage=None)
    _, email = make_user("manager")
    login(email)
    token = page_token(client, "/deals/stages")
    response = client.post("/deals/stages", data={
        "csrf_token": token, "crm_stage": ["Qualification", "Discovery", "Closed Lost"],
        "stage": ["negotiating", "no-such-stage", "negotiating"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was saved" in page
    assert "“no-such-stage” is not one of the portal&#39;s stages" in page
    assert "“Closed Lost” closes a deal" in page
    # What the manager picked for the good row is still picked.
    qualification = page.split('value="Qualification"')[1].split("</select>")[0]
    assert 'value="negotiating" selected' in qualification
    assert count(app, CrmStageMapping) == 0


# ---- used in deal ----------------------------------------------------------------------------


@pytest.fixture
def deals(app, taxonomy):
    return {
        "acme": add_deal(app, "1", "Forecasting rollout", account="Acme Corp"),
        "globex": add_deal(app, "2", "Globex renewal", account="Globex"),
        "closed": add_deal(app, "3", "Initech expansion", account="Initech", closed=True,
                           crm_stage="Closed Won", stage=None),
    }


def test_open_deals_endpoint_filters_by_name_or_account_and_caps_at_20(
        app, client, make_user, login, deals):
    for n in range(25):
        add_deal(app, f"x{n}", f"Expansion {n:02}", account="Hooli")
    _, email = make_user("rep")
    login(email)
    found = client.get("/deals/open.json?q=acme").get_json()
    assert [d["name"] for d in found] == ["Forecasting rollout"]  # by account
    assert [d["name"] for d in client.get("/deals/open.json?q=RENEW").get_json()] == [
        "Globex renewal"]
    assert client.get("/deals/open.json?q=initech").get_json() == []  # closed: not offered
    assert len(client.get("/deals/open.json?q=hooli").get_json()) == 20
    assert client.get("/deals/open.json?q=%25").get_json() == []  # % is a character, not "any"


def test_rep_records_an_item_in_a_deal_sees_it_and_undoes_it(
        app, client, make_user, login, make_item, deals):
    make_item("roi-calculator", title="ROI calculator", stages=["building-business-case"])
    _, email = make_user("rep")
    login(email)
    page = client.get("/content/roi-calculator?stage=building-business-case").get_data(as_text=True)
    assert "Used in deals" in page and "Forecasting rollout (Acme Corp)" in page
    assert "Initech" not in page  # closed deals are not offered
    response = client.post("/content/roi-calculator/deals", data={
        "csrf_token": csrf_from(page), "deal": str(deals["acme"]),
        "stage": "building-business-case", "next": "/content/roi-calculator"})
    assert response.status_code == 302 and response.location.endswith("/content/roi-calculator")
    assert used_in_deal_events(app) == [
        ("roi-calculator", deals["acme"], "building-business-case", "rep")]
    page = client.get("/content/roi-calculator").get_data(as_text=True)
    assert "Used in: <strong>Forecasting rollout (Acme Corp)</strong>" in page
    assert "Recorded: “ROI calculator” used in Forecasting rollout" in page
    # Twice is still one link.
    client.post("/content/roi-calculator/deals", data={
        "csrf_token": csrf_from(page), "deal": str(deals["acme"])})
    assert len(used_in_deal_events(app)) == 1
    # Another rep does not see this rep's link.
    other = app.test_client()
    _, other_email = make_user("rep")
    from tests.conftest import log_in
    log_in(other, other_email)
    assert "Used in: " not in other.get("/content/roi-calculator").get_data(as_text=True)
    # Undo.
    response = client.post(f"/content/roi-calculator/deals/{deals['acme']}/remove",
                           data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert used_in_deal_events(app) == []
    assert "Used in: " not in client.get("/content/roi-calculator").get_data(as_text=True)


def test_the_deal_stage_is_the_context_when_the_page_had_none(
        app, client, make_user, login, make_item, deals):
    make_item("roi-calculator")
    _, email = make_user("rep")
    login(email)
    token = page_token(client, "/content/roi-calculator")
    client.post("/content/roi-calculator/deals", data={
        "csrf_token": token, "deal": str(deals["globex"]), "stage": "not-a-stage"})
    assert used_in_deal_events(app) == [("roi-calculator", deals["globex"], "negotiating", "rep")]


def test_search_results_offer_the_deal_form_and_return_to_the_results(
        app, client, make_user, login, make_item, deals):
    make_item("roi-calculator", title="ROI calculator")
    _, email = make_user("rep")
    login(email)
    page = client.get("/search?q=roi&stage=understanding-offerings").get_data(as_text=True)
    assert "Used in a deal…" in page and 'id="deal-roi-calculator"' in page
    assert 'name="stage" type="hidden" value="understanding-offerings"' in page
    back = "/search?q=roi&stage=understanding-offerings"
    response = client.post("/content/roi-calculator/deals", data={
        "csrf_token": csrf_from(page), "deal": str(deals["acme"]),
        "stage": "understanding-offerings", "next": back})
    assert response.location.endswith(back)
    assert used_in_deal_events(app) == [
        ("roi-calculator", deals["acme"], "understanding-offerings", "rep")]


def test_a_closed_or_unknown_deal_is_refused_in_words(
        app, client, make_user, login, make_item, deals):
    make_item("roi-calculator")
    _, email = make_user("rep")
    login(email)
    token = page_token(client, "/content/roi-calculator")
    for deal in (str(deals["closed"]), "999999", "abc", ""):
        response = client.post("/content/roi-calculator/deals",
                               data={"csrf_token": token, "deal": deal})
        assert response.status_code == 302 and "/content/roi-calculator/deals" in response.location
        page = client.get(response.location).get_data(as_text=True)
        assert "Pick one of the open deals" in page
    assert used_in_deal_events(app) == []


def test_the_filter_page_works_without_javascript(app, client, make_user, login, make_item, deals):
    make_item("roi-calculator")
    _, email = make_user("rep")
    login(email)
    page = client.get("/content/roi-calculator/deals?q=globex&next=/search?q=roi")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Globex renewal" in text and "Forecasting rollout" not in text
    assert 'value="/search?q=roi"' in text
    evil = client.get("/content/roi-calculator/deals?next=//evil.example").get_data(as_text=True)
    assert "evil.example" not in evil
    assert "No open deal matches “zzz”" in client.get(
        "/content/roi-calculator/deals?q=zzz").get_data(as_text=True)


def test_champions_never_see_deals(app, client, make_user, login, make_item, deals):
    make_item("roi-calculator")
    _, email = make_user("champion")
    login(email)
    page = client.get("/content/roi-calculator").get_data(as_text=True)
    assert "Used in deals" not in page and "Forecasting rollout" not in page
    assert client.get("/deals/open.json").status_code == 403
    assert client.get("/content/roi-calculator/deals").status_code == 403
    token = page_token(client, "/content/roi-calculator")
    assert client.post("/content/roi-calculator/deals",
                       data={"csrf_token": token, "deal": str(deals["acme"])}).status_code == 403
    assert used_in_deal_events(app) == []


def test_a_hidden_item_cannot_be_linked(app, client, make_user, login, make_item, deals):
    make_item("draft-thing", status="draft")
    _, email = make_user("rep")
    login(email)
    token = page_token(client, "/")
    response = client.post("/content/draft-thing/deals",
                           data={"csrf_token": token, "deal": str(deals["acme"])})
    assert response.status_code == 404 and used_in_deal_events(app) == []


# ---- in a real browser -----------------------------------------------------------------------

def axe_violations(page, selector: str) -> list[str]:
    """axe-core's findings inside `selector` (axe-core ships inside axe-playwright-python)."""
    from axe_playwright_python.base import AXE_SCRIPT

    # Evaluated through the DevTools protocol: the page's CSP refuses inline scripts.
    page.evaluate(AXE_SCRIPT)
    found = page.evaluate("sel => axe.run(document.querySelector(sel)).then(r => r.violations"
                          ".map(v => v.id + ': ' + v.help + ' ' + v.nodes.map(n => n.target)"
                          ".join(' ')))", selector)
    return found


@pytest.mark.browser
def test_a_rep_records_an_item_in_a_deal_from_the_item_page_in_chromium(app, make_user):
    from content_library.services.demo import load_demo
    from tests.browser_support import chromium, live_server, need_browser

    need_browser()
    with app.app_context():
        load_demo(db.session, Path(app.config["UPLOAD_DIR"]))
        slug = db.session.scalar(select(ContentItem.slug).where(
            ContentItem.status == "published").order_by(ContentItem.slug).limit(1))
    # Names the demo's own deals do not use, so the filter finds exactly these.
    acme = add_deal(app, "b1", "Forecasting rollout", account="Zyxwv Corp")
    for n in range(25):  # more open deals than the list shows: the filter must find Zyxwv
        add_deal(app, f"b{n + 2}", f"Expansion {n:02}", account="Hooli")
    add_deal(app, "b99", "Zyxwv renewal", account="Zyxwv Corp", closed=True,
             crm_stage="Closed Won", stage=None)
    rep_id, email = make_user("rep", email="rita.rep@example.com", name="Rita Rep")
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/login")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(base + "/")
        page.goto(f"{base}/content/{slug}")

        section = page.locator(".item-deals")
        picker = section.get_by_label("Open deal")
        assert picker.locator("option").count() == 20  # the first twenty, by name
        section.get_by_label("Find a deal by name or account").fill("zyxwv")
        section.get_by_text("1 open deal in the list.").wait_for()
        assert picker.locator("option").all_inner_texts() == ["Forecasting rollout (Zyxwv Corp)"]
        violations = axe_violations(page, ".item-deals") or []
        section.get_by_role("button", name="Record use in this deal").click()

        page.get_by_text("Used in: Forecasting rollout (Zyxwv Corp)").wait_for()
        assert used_in_deal_events(app, rep_id) == [(slug, acme, "negotiating", "rep")]
        page.get_by_role("button", name="Remove from Forecasting rollout (Zyxwv Corp)").click()
        page.get_by_text("Removed: the deal no longer lists this item as used.").wait_for()
        assert used_in_deal_events(app, rep_id) == []

        # The same picker under each search result, folded away until opened.
        page.goto(f"{base}/search?q=")
        hit = page.locator(".hit").first
        hit.get_by_text("Used in a deal…").click()
        hit.get_by_label("Open deal").wait_for()
        violations += axe_violations(page, ".hits") or []
        assert errors == []
        assert not violations, violations


@pytest.mark.parametrize("deals_file", [
    ("picture.png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("empty.csv", ""),
    ("other.csv", "Name,Email\nRita,rita@example.com\n"),
])
def test_import_page_refuses_files_that_are_not_exports_in_words(
        app, client, make_user, login, taxonomy, deals_file):
    _, email = make_user("manager")
    login(email)
    response = upload(client, page_token(client, "/deals/import"), deals=deals_file,
                      history=("history.csv", "OpportunityId,StageName,CreatedDate\n"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was imported" in page
    assert count(app, Deal) == 0
