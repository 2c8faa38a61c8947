"""A buyer fills in a shared business-case template through the link: no log-in, named after
the link's company, counted for the link's deal, and gone with the link."""

from __future__ import annotations

import io

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from content_library.models import Deal, UsageEvent
from content_library.services import share_links
from content_library.services import users as user_service
from portal.extensions import db
from tests.conftest import csrf_from
from tests.test_business_cases import template_items  # noqa: F401 (a fixture)


def _share(app, slugs, *, account: str = "Acme Health", **extra) -> tuple[int, str]:
    with app.app_context():
        deal = Deal(source="salesforce", crm_id="006F1", name="Acme forecasting",
                    account=account, crm_stage="Business case", stage="building-business-case")
        db.session.add(deal)
        db.session.commit()
        rep = user_service.find_by_email(db.session, "rep@example.com")
        link, token = share_links.create(db.session, rep, share_links.ShareRequest(
            content=tuple(slugs), recipient="cfo@acme.example", expires_in_days=7, deal=deal,
            **extra))
        return link.id, token


def _generated(app) -> list[UsageEvent]:
    with app.app_context():
        return list(db.session.scalars(select(UsageEvent).where(
            UsageEvent.kind == "template_generated")))


def test_a_buyer_fills_the_word_template_through_the_link(template_items, make_user, app):  # noqa: F811
    make_user("rep", email="rep@example.com")
    share_id, token = _share(app, ["business-case", "roi-calculator"])
    buyer = app.test_client()
    item_page = buyer.get(f"/s/{token}/items/business-case").get_data(as_text=True)
    assert f"/s/{token}/items/business-case/fill" in item_page
    form = buyer.get(f"/s/{token}/items/business-case/fill")
    assert form.status_code == 200 and form.headers["Referrer-Policy"] == "no-referrer"
    page = form.get_data(as_text=True)
    assert "Acme Health" in page and 'name="company"' not in page and 'name="deal"' not in page
    answer = buyer.post(f"/s/{token}/items/business-case/fill", data={
        "csrf_token": csrf_from(page), "value_project_name": "{{ 7*7 }} =HYPERLINK(\"x\")",
        "value_annual_revenue": "250,000,000"})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:1000]
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="Acme Health - Business case.docx"')
    text = "\n".join(p.text for p in Document(io.BytesIO(answer.data)).paragraphs)
    assert "{{ 7*7 }} =HYPERLINK(\"x\")" in text and "49" not in text
    [event] = _generated(app)
    assert (event.item_slug, event.user_id, event.details) == (
        "business-case", None, {"share": share_id, "format": "docx"})
    assert event.deal_id is not None
    with app.app_context():
        rep_page_link = share_links.activity(db.session, db.session.get(
            share_links.ShareLink, share_id))
    assert any(a.kind == "filled" for a in rep_page_link)


def test_the_workbook_keeps_its_formulas_and_a_typed_formula_stays_text(
        template_items, make_user, app):  # noqa: F811
    make_user("rep", email="rep@example.com")
    _, token = _share(app, ["roi-calculator"], account="")
    buyer = app.test_client()
    page = buyer.get(f"/s/{token}/items/roi-calculator/fill").get_data(as_text=True)
    typed = '=HYPERLINK("http://evil.example","Click")'
    answer = buyer.post(f"/s/{token}/items/roi-calculator/fill", data={
        "csrf_token": csrf_from(page), "company": typed, "value_user_count": "120"})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:1000]
    workbook = load_workbook(io.BytesIO(answer.data))
    cells = [c for ws in workbook for row in ws.iter_rows() for c in row]
    formulas = [c.value for c in cells if c.data_type == "f"]
    assert formulas and not any("HYPERLINK" in str(f) for f in formulas)
    assert any(c.value == typed and c.data_type == "s" for c in cells)
    assert 120 in [c.value for c in cells]  # a number stays a number


def test_a_refused_form_keeps_the_input_and_a_dead_link_offers_nothing(
        template_items, make_user, app):  # noqa: F811
    make_user("rep", email="rep@example.com")
    share_id, token = _share(app, ["business-case"], account="")
    buyer = app.test_client()
    page = buyer.get(f"/s/{token}/items/business-case/fill").get_data(as_text=True)
    assert 'name="company"' in page  # no deal account: the buyer names their company
    refused = buyer.post(f"/s/{token}/items/business-case/fill", data={
        "csrf_token": csrf_from(page), "company": "", "value_project_name": "Kept words",
        "value_document_date": "31/03/2026"})
    assert refused.status_code == 400
    assert 'value="Kept words"' in refused.get_data(as_text=True)
    assert _generated(app) == []
    with app.app_context():
        share_links.revoke(db.session, user_service.find_by_email(db.session, "rep@example.com"),
                           share_id)
    assert buyer.get(f"/s/{token}/items/business-case/fill").status_code == 404


def test_no_fill_in_when_downloads_are_off_or_the_item_is_no_template(
        template_items, make_user, app):  # noqa: F811
    make_user("rep", email="rep@example.com")
    _, token = _share(app, ["business-case", "no-fields"], allow_downloads=False)
    buyer = app.test_client()
    assert "/fill" not in buyer.get(f"/s/{token}/items/business-case").get_data(as_text=True)
    assert buyer.get(f"/s/{token}/items/business-case/fill").status_code == 404
    with app.app_context():
        db.session.query(Deal).delete()
        db.session.commit()
    _, token = _share(app, ["no-fields"])
    assert buyer.get(f"/s/{token}/items/no-fields/fill").status_code == 404
