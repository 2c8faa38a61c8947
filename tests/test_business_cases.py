"""Business-case templates through the portal: fields kept in step with the file, the managers'
field editor, the fill-in page, and POST /api/v1/content/<slug>/generate as INTERFACES
section 6 writes it."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import delete, select

from content_library.demo.make_files import BUSINESS_CASE_FILE, ROI_CALCULATOR_FILE
from content_library.models import Deal, LoginFailure, TemplateField, UsageEvent, utcnow
from content_library.services import items as item_service
from content_library.services import taxonomy as taxonomy_service
from content_library.services import templates
from content_library.services import users as user_service
from content_library.services.files import store_file
from portal.extensions import db
from tests.conftest import csrf_from, log_in, page_token

DEMO_FILES = Path(templates.__file__).resolve().parent.parent / "demo" / "files"
WORD_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _small_docx(*placeholders: str) -> bytes:
    document = Document()
    for name in placeholders:
        document.add_paragraph(f"{name}: {{{{{name}}}}}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def attach(app, slug: str, data: bytes, name: str, **fields) -> None:
    """Save the item (created if new) with this file, as the item form does."""
    with app.app_context():
        session = db.session
        existing = session.scalar(select(item_service.ContentItem)
                                  .where(item_service.ContentItem.slug == slug))
        file = store_file(session, Path(app.config["UPLOAD_DIR"]), io.BytesIO(data), name)
        values = {"title": fields.pop("title", slug.replace("-", " ").title()),
                  "type": "business-case-template", "audience": "external",
                  "status": "published", "stages": ("building-business-case",), **fields}
        if existing is not None:
            values = {**item_service.snapshot(existing), **values}
            values.pop("file")
            data_in = item_service.input_from_snapshot(values)
        else:
            data_in = item_service.ItemInput(slug=slug, **values)
        item_service.save_item(session, data_in, None, existing=existing, file=file)


@pytest.fixture
def template_items(app, taxonomy):
    """The demo's two templates as items of their own, an internal one, and a plain item."""
    with app.app_context():
        taxonomy_service.merge_tag(db.session, "content_types", {
            "slug": "business-case-template", "name": "Business case template"}, 9)
        db.session.commit()
    attach(app, "business-case", (DEMO_FILES / BUSINESS_CASE_FILE).read_bytes(),
           "business-case-template.docx",
           title="Business case template for a revenue operations project")
    attach(app, "roi-calculator", (DEMO_FILES / ROI_CALCULATOR_FILE).read_bytes(),
           "roi-calculator.xlsx", title="ROI calculator workbook (three-year return)")
    attach(app, "internal-case", _small_docx("company_name", "margin_pct"), "internal.docx",
           audience="internal")
    attach(app, "no-fields", _small_docx(), "plain.docx")
    return app


def rows(app, slug: str) -> list[tuple]:
    with app.app_context():
        item = item_service.get_item(db.session, slug)
        return [(r.name, r.label, r.kind, r.required) for r in db.session.scalars(
            select(TemplateField).where(TemplateField.item_id == item.id)
            .order_by(TemplateField.position))]


def generated(app) -> list[tuple]:
    with app.app_context():
        return [(e.kind, e.item_slug, e.role, e.deal_id, e.details) for e in db.session.scalars(
            select(UsageEvent).where(UsageEvent.kind == "template_generated")
            .order_by(UsageEvent.id))]


def add_deal(app, crm_id: str, name: str, account: str, closed: bool = False) -> int:
    with app.app_context():
        deal = Deal(source="salesforce", crm_id=crm_id, name=name, account=account,
                    crm_stage="Business case", stage="building-business-case", is_closed=closed,
                    outcome="won" if closed else None, close_date=date(2026, 10, 1))
        db.session.add(deal)
        db.session.commit()
        return deal.id


# ---- fields kept in step with the file ---------------------------------------------------------


def test_attaching_a_template_file_creates_its_fields_with_guessed_labels_and_kinds(
        template_items):
    found = rows(template_items, "roi-calculator")
    assert found[:3] == [("company_name", "Company name", "text", True),
                         ("annual_revenue", "Annual revenue", "currency", False),
                         ("user_count", "User count", "number", False)]
    assert ("time_saved_pct", "Time saved %", "percent", False) in found
    assert rows(template_items, "no-fields") == []


def test_a_new_file_keeps_the_managers_settings_for_names_that_remain(template_items):
    app = template_items
    attach(app, "internal-case", _small_docx("company_name", "margin_pct", "go_live_date"),
           "internal.docx")
    with app.app_context():
        item = item_service.get_item(db.session, "internal-case")
        templates.save_fields(db.session, item, [
            templates.FieldEdit("company_name", "Hospital", "text", True, 3),
            templates.FieldEdit("margin_pct", "Gross margin", "number", True, 1),
            templates.FieldEdit("go_live_date", "Go-live", "date", False, 2)])
    assert [r[0] for r in rows(app, "internal-case")] == ["margin_pct", "go_live_date",
                                                            "company_name"]
    attach(app, "internal-case", _small_docx("margin_pct", "seats", "company_name"),
           "internal.docx")
    assert rows(app, "internal-case") == [
        ("margin_pct", "Gross margin", "number", True),
        ("company_name", "Hospital", "text", True),
        ("seats", "Seats", "number", False)]


def test_an_item_saved_before_fields_existed_gets_them_from_its_file(template_items, ctx):
    item = item_service.get_item(ctx, "business-case")
    ctx.execute(delete(TemplateField))
    ctx.commit()
    found = templates.fields(ctx, item)
    assert [f.name for f in found] == item.file.template_fields
    assert found[0] == templates.Field("project_name", "Project name", "text", False)
    assert rows(template_items, "business-case") == []  # reading writes nothing
    templates.save_fields(ctx, item, [
        templates.FieldEdit(f.name, f.label.upper(), f.kind, f.required, n)
        for n, f in enumerate(found, start=1)])
    assert rows(template_items, "business-case")[0] == ("project_name", "PROJECT NAME", "text",
                                                        False)


def test_the_field_editors_rules_are_named_per_field(template_items, ctx):
    item = item_service.get_item(ctx, "internal-case")
    with pytest.raises(templates.Invalid) as refused:
        templates.save_fields(ctx, item, [
            templates.FieldEdit("company_name", " ", "text", True, 1),
            templates.FieldEdit("margin_pct", "x" * 201, "colour", False, 9)])
    assert refused.value.reasons == {
        "company_name.label": "Enter the label people see beside the field.",
        "margin_pct.label": "Use at most 200 characters.",
        "margin_pct.kind": "Choose one of: Text, Number, Amount of money, Percentage, Date.",
        "margin_pct.position": "Enter a position from 1 to 2."}
    with pytest.raises(templates.Invalid, match="changed while you were editing"):
        templates.save_fields(ctx, item, [templates.FieldEdit("other", "O", "text", True, 1)])


# ---- the pages ---------------------------------------------------------------------------------


def test_the_item_page_offers_fill_in_to_readers_and_the_field_editor_to_managers(
        template_items, client, make_user):
    for role in ("champion", "rep", "manager"):
        _, email = make_user(role)
        log_in(client, email)
        page = client.get("/content/business-case").get_data(as_text=True)
        assert 'href="/content/business-case/fill' in page and "Fill in this business case" in page
        assert ("/content/business-case/template-fields" in page) == (role == "manager")
        plain = client.get("/content/no-fields").get_data(as_text=True)
        assert "/fill" not in plain
        client.post("/logout", data={"csrf_token": csrf_from(page)})


def test_a_champion_fills_in_the_word_template_and_downloads_it_named_after_the_company(
        template_items, client, make_user):
    champion_id, email = make_user("champion", company="Contoso Health")
    log_in(client, email)
    page = client.get("/content/business-case/fill").get_data(as_text=True)
    assert "Contoso Health" in page and 'name="company"' not in page and 'name="deal"' not in page
    assert re.search(r'<input[^>]*name="value_document_date"[^>]*type="date"', page)
    assert re.search(r'<input[^>]*inputmode="decimal"[^>]*name="value_annual_revenue"', page)
    assert 'name="value_company_name"' not in page  # the company fills it
    response = client.post("/content/business-case/fill", data={
        "csrf_token": csrf_from(page), "value_project_name": "Forecasting & <renewals>",
        "value_annual_revenue": "$250,000,000", "value_document_date": "2026-03-31"})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == WORD_MIME
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Contoso Health - Business case.docx"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    filled = Document(io.BytesIO(response.data))
    text = "\n".join(p.text for p in filled.paragraphs)
    assert "Business case: Forecasting & <renewals>" in text
    assert "Contoso Health earns $250,000,000 a year" in text and "31 March 2026" in text
    assert generated(template_items) == [
        ("template_generated", "business-case", "champion", None, {"format": "docx"})]


def test_a_refused_form_keeps_what_was_typed_with_each_reason_beside_its_field(
        template_items, client, make_user, login):
    _, email = make_user("rep")
    login(email)
    with template_items.app_context():
        item = item_service.get_item(db.session, "roi-calculator")
        templates.save_fields(db.session, item, [
            templates.FieldEdit(f.name, f.label, f.kind, f.name == "annual_revenue", n)
            for n, f in enumerate(templates.fields(db.session, item), start=1)])
    token = page_token(client, "/content/roi-calculator/fill")
    response = client.post("/content/roi-calculator/fill", data={
        "csrf_token": token, "company": "", "value_user_count": "lots",
        "value_hourly_cost": "85.50", "value_time_saved_pct": "=1+1"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="lots"' in page and 'value="85.50"' in page and 'value="=1+1"' in page
    for field, says in (("company", "Enter the company"), ("value_annual_revenue", "required"),
                        ("value_user_count", "Enter a number"),
                        ("value_time_saved_pct", "Enter a percentage")):
        error = re.search(rf'<input[^>]*aria-describedby="{field}-error"[^>]*>\s*'
                          rf'(?:<p class="help"[^>]*>[^<]*</p>\s*)?'
                          rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
        assert error and says in error.group(1), field
    assert generated(template_items) == []


def test_a_rep_fills_in_the_workbook_for_a_deal_and_the_generation_counts_for_it(
        template_items, client, make_user, login):
    rep_id, email = make_user("rep")
    deal_id = add_deal(template_items, "006X1", "Contoso renewal", "Contoso Health")
    login(email)
    page = client.get(f"/content/roi-calculator/fill?deal={deal_id}").get_data(as_text=True)
    assert re.search(rf'<option[^>]*selected[^>]*value="{deal_id}"|<option value="{deal_id}" selected',
                     page)
    assert re.search(r'<input[^>]*name="company"[^>]*value="Contoso Health"', page)
    response = client.post("/content/roi-calculator/fill?stage=negotiating", data={
        "csrf_token": csrf_from(page), "company": "Contoso Health", "deal": str(deal_id),
        "value_annual_revenue": "EUR 410,000,000", "value_user_count": "300",
        "value_time_saved_pct": "35%"})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Contoso Health - ROI calculator.xlsx"')
    book = load_workbook(io.BytesIO(response.data))
    assert book["Inputs"]["B6"].value == "Contoso Health"
    assert book["Inputs"]["B7"].value == 410_000_000
    assert book["Calculation"]["B20"].value == "=E9"
    assert generated(template_items) == [
        ("template_generated", "roi-calculator", "rep", deal_id, {"format": "xlsx"})]


def test_a_closed_deal_is_refused_beside_the_deal_field(template_items, client, make_user, login):
    _, email = make_user("rep")
    closed = add_deal(template_items, "006X2", "Old deal", "Fabrikam", closed=True)
    login(email)
    token = page_token(client, "/content/business-case/fill")
    response = client.post("/content/business-case/fill", data={
        "csrf_token": token, "company": "Fabrikam", "deal": str(closed)})
    assert response.status_code == 400
    assert 'id="deal-error">Pick one of the open deals' in response.get_data(as_text=True)


def test_what_a_reader_may_not_open_or_that_is_no_template_answers_404(
        template_items, client, make_user, login):
    _, email = make_user("champion")
    login(email)
    assert client.get("/content/internal-case/fill").status_code == 404
    assert client.get("/content/no-fields/fill").status_code == 404
    assert client.get("/content/nothing-here/fill").status_code == 404
    token = page_token(client, "/content/business-case/fill")
    assert client.post("/content/internal-case/fill", data={"csrf_token": token}).status_code == 404
    assert client.get("/content/business-case/template-fields").status_code == 403


def test_the_fill_form_needs_its_security_token(template_items, client, make_user, login):
    _, email = make_user("champion")
    login(email)
    response = client.post("/content/business-case/fill", data={"value_project_name": "x"})
    assert response.status_code == 400 and generated(template_items) == []


def test_generating_is_rate_limited_per_client_with_retry_after(
        template_items, client, make_user, login):
    user_id, email = make_user("champion")
    login(email)
    with template_items.app_context():
        db.session.add_all(LoginFailure(key=f"generate:user:{user_id}",
                                        at=utcnow() - timedelta(minutes=1))
                           for _ in range(templates.GENERATE_LIMIT))
        db.session.commit()
    token = page_token(client, "/content/business-case/fill")
    response = client.post("/content/business-case/fill",
                           data={"csrf_token": token, "value_project_name": "Forecasting"})
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= templates.GENERATE_WINDOW.total_seconds()
    assert "many documents in a short time" in response.get_data(as_text=True)
    assert 'value="Forecasting"' in response.get_data(as_text=True)
    with template_items.app_context():  # the window passes: no lasting lock-out
        db.session.execute(delete(LoginFailure))
        db.session.commit()
    response = client.post("/content/business-case/fill",
                           data={"csrf_token": token, "value_project_name": "Forecasting"})
    assert response.status_code == 200


def test_the_managers_field_editor_sets_labels_types_required_and_order(
        template_items, client, make_user, login):
    _, email = make_user("manager")
    login(email)
    page = client.get("/content/internal-case/template-fields").get_data(as_text=True)
    assert "<code>company_name</code>" in page and "<code>margin_pct</code>" in page
    form = {"csrf_token": csrf_from(page),
            "name-0": "company_name", "label-0": "Hospital", "kind-0": "text",
            "required-0": "1", "position-0": "2",
            "name-1": "margin_pct", "label-1": "Gross margin", "kind-1": "percent",
            "required-1": "1", "position-1": "1"}
    response = client.post("/content/internal-case/template-fields", data=form)
    assert response.status_code == 302
    assert rows(template_items, "internal-case") == [
        ("margin_pct", "Gross margin", "percent", True), ("company_name", "Hospital", "text", True)]
    fill_page = client.get("/content/internal-case/fill").get_data(as_text=True)
    assert "Gross margin (required)" in fill_page and "A percentage" in fill_page
    refused = client.post("/content/internal-case/template-fields",
                          data={**form, "label-1": "", "position-0": "7", "kind-1": "colour"})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert 'id="label-1-error">Enter the label' in text and 'id="position-0-error">' in text
    assert 'value="Hospital"' in text  # what the manager typed stays


def test_the_field_editor_says_when_the_file_has_no_fields(template_items, client, make_user,
                                                           login):
    _, email = make_user("manager")
    login(email)
    page = client.get("/content/no-fields/template-fields").get_data(as_text=True)
    assert "Its file has no fields" in page and "Save the fields" not in page


# ---- the API -----------------------------------------------------------------------------------


@pytest.fixture
def bearer(app, make_user):
    def issue(role: str = "rep", **extra) -> dict:
        _, email = make_user(role, **extra)
        with app.app_context():
            return {"Authorization": f"Bearer {user_service.issue_token(db.session, email)}"}

    return issue


def test_the_item_lists_its_template_fields(template_items, bearer):
    client, headers = template_items.test_client(), bearer("champion")
    fields = client.get("/api/v1/content/roi-calculator", headers=headers).get_json()[
        "template_fields"]
    assert fields[:2] == [
        {"name": "company_name", "label": "Company name", "type": "text", "required": True},
        {"name": "annual_revenue", "label": "Annual revenue", "type": "currency",
         "required": False}]
    # Not a template: outside a champion's template library, so a rep asks.
    assert client.get("/api/v1/content/no-fields", headers=bearer("rep")).get_json()[
        "template_fields"] == []


def test_generate_answers_the_filled_file_as_an_attachment(template_items, bearer):
    response = template_items.test_client().post(
        "/api/v1/content/business-case/generate", headers=bearer("champion", company="Contoso"),
        json={"values": {"project_name": "{{ 7*7 }} & more", "roi_percent": 145.5,
                         "go_live_date": "2027-01-15", "company_name": "Someone else"}})
    assert response.status_code == 200, response.get_json()
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Contoso - Business case.docx"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = "\n".join(p.text for p in Document(io.BytesIO(response.data)).paragraphs)
    assert "Business case: {{ 7*7 }} & more" in text and "145.5%" in text
    assert "15 January 2027" in text and "Contoso earns" in text  # a champion's own company
    assert generated(template_items) == [
        ("template_generated", "business-case", "champion", None,
         {"format": "docx", "via": "api"})]


def test_generate_for_a_deal_takes_the_deals_crm_id(template_items, bearer):
    deal_id = add_deal(template_items, "006X9", "Contoso renewal", "Contoso Health")
    client = template_items.test_client()
    response = client.post("/api/v1/content/roi-calculator/generate", headers=bearer("rep"),
                           json={"values": {"user_count": "1,200"}, "deal": "006X9"})
    assert response.status_code == 200, response.get_json()
    assert 'filename="Contoso Health - ROI calculator.xlsx"' in response.headers[
        "Content-Disposition"]  # the deal's account, when no company is named
    assert generated(template_items)[0][3] == deal_id
    champion = bearer("champion")
    assert client.post("/api/v1/content/roi-calculator/generate", headers=champion,
                       json={"values": {}, "deal": "006X9"}).status_code == 404


@pytest.mark.parametrize("body, names", [
    ({"values": {"document_date": "31/03/2026"}}, "document_date"),
    ({"values": {"user_count": "many"}}, "user_count"),
    ({"values": {"no_such_field": "x"}}, "no_such_field"),
    ({"values": {"why_now": "x" * 2_001}}, "why_now"),
    ({"values": {"why_now": ["a list"]}}, "why_now"),
    ({"values": {}, "company": ""}, "company"),
    ({"values": "all of them"}, "values"),
    ({"values": {}, "colour": "red"}, "colour"),
    ([1, 2], "JSON object"),
])
def test_a_missing_or_malformed_value_answers_400_naming_the_field(template_items, bearer, body,
                                                                   names):
    response = template_items.test_client().post(
        "/api/v1/content/business-case/generate", headers=bearer("rep"), json=body)
    assert response.status_code == 400
    assert names in response.get_json()["error"]
    assert generated(template_items) == []


def test_a_required_field_left_out_is_named(template_items, bearer):
    with template_items.app_context():
        item = item_service.get_item(db.session, "business-case")
        templates.save_fields(db.session, item, [
            templates.FieldEdit(f.name, f.label, f.kind, f.name == "annual_revenue", n)
            for n, f in enumerate(templates.fields(db.session, item), start=1)])
    response = template_items.test_client().post(
        "/api/v1/content/business-case/generate", headers=bearer("rep"),
        json={"values": {"project_name": "x"}, "company": "Acme"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "annual_revenue: Fill this in: it is required."
    assert response.get_json()["fields"] == {"annual_revenue": "Fill this in: it is required."}


def test_what_a_champion_may_not_read_answers_404_like_nothing(template_items, bearer):
    client, headers = template_items.test_client(), bearer("champion")
    hidden = client.post("/api/v1/content/internal-case/generate", headers=headers,
                         json={"values": {}})
    missing = client.post("/api/v1/content/no-such-item/generate", headers=headers,
                          json={"values": {}})
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["error"] == missing.get_json()["error"]
    assert client.post("/api/v1/content/no-fields/generate", headers=headers,
                       json={"values": {}}).status_code == 404
    assert client.post("/api/v1/content/internal-case/generate", headers=bearer("rep"),
                       json={"values": {"company_name": "Acme"}}).status_code == 200


def test_generate_is_rate_limited_with_retry_after(template_items, bearer):
    client, headers = template_items.test_client(), bearer("champion")
    statuses = [client.post("/api/v1/content/roi-calculator/generate", headers=headers,
                            json={"values": {}}).status_code
                for _ in range(templates.GENERATE_LIMIT + 1)]
    assert statuses == [200] * templates.GENERATE_LIMIT + [429]
    refused = client.post("/api/v1/content/roi-calculator/generate", headers=headers,
                          json={"values": {}})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "error" in refused.get_json()


def test_a_cookie_call_needs_the_csrf_header(template_items, client, make_user, login):
    _, email = make_user("champion")
    login(email)
    assert client.post("/api/v1/content/business-case/generate",
                       json={"values": {}}).status_code == 400


# ---- the demo, end to end ----------------------------------------------------------------------


def test_the_demos_two_templates_work_end_to_end(app, client):
    from content_library.services.demo import DEMO_USERS, load_demo

    with app.app_context():
        load_demo(db.session, Path(app.config["UPLOAD_DIR"]))
    champion = next(u for u in DEMO_USERS if u.role == "champion")
    log_in(client, champion.email, champion.password)
    for slug, name, values in (
            ("business-case-template-revenue-project", "Business case.docx",
             {"value_project_name": "Revenue operations", "value_annual_revenue": "$410,000,000",
              "value_go_live_date": "2027-02-01"}),
            ("roi-calculator-workbook", "ROI calculator.xlsx",
             {"value_annual_revenue": "410,000,000", "value_time_saved_pct": "35"})):
        item_page = client.get(f"/content/{slug}").get_data(as_text=True)
        assert f'href="/content/{slug}/fill"' in item_page
        token = page_token(client, f"/content/{slug}/fill")
        response = client.post(f"/content/{slug}/fill", data={"csrf_token": token, **values})
        assert response.status_code == 200, response.get_data(as_text=True)[:3000]
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="Contoso Health - {name}"')
    with app.app_context():
        mine = db.session.scalars(select(UsageEvent).where(
            UsageEvent.kind == "template_generated", UsageEvent.role == "champion")).all()
        assert sorted(e.details["format"] for e in mine) == ["docx", "xlsx"]
        # The demo's items were imported with their fields (the import saves them as items).
        item = item_service.get_item(db.session, "roi-calculator-workbook")
        assert db.session.scalar(select(TemplateField.label).where(
            TemplateField.item_id == item.id, TemplateField.name == "time_saved_pct")) == \
            "Time saved %"
