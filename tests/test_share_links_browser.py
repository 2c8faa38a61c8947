"""A rep shares two items from search results in a real browser; a buyer with no log-in opens
the link, reads an item, downloads its file, fills in the business case and downloads it
filled; the rep sees all of it on the link's page."""

from __future__ import annotations

import io
import re

import pytest
from docx import Document

from tests.browser_support import chromium, live_server
from tests.test_browser import demo_app, log_in_as  # noqa: F401  (demo_app is a fixture)

pytestmark = pytest.mark.browser

TEMPLATE = "business-case-template-revenue-project"
CALCULATOR = "roi-calculator-workbook"


def test_a_rep_shares_two_results_and_sees_the_buyer_open_and_download(demo_app):  # noqa: F811
    with live_server(demo_app) as base, chromium() as browser:
        rep_context = browser.new_context(viewport={"width": 1280, "height": 900})
        rep = rep_context.new_page()
        errors = []
        rep.on("pageerror", lambda e: errors.append(str(e)))
        log_in_as(rep, base, "rep")

        rep.goto(base + "/search?q=business+case+template")
        # Both ticked from the keyboard: each checkbox takes focus and Space ticks it.
        for slug in (TEMPLATE, CALCULATOR):
            box = rep.locator(f'input[name=item][value="{slug}"]')
            box.focus()
            rep.keyboard.press("Space")
            assert box.is_checked()
        rep.get_by_role("button", name="Share selected").last.focus()
        rep.keyboard.press("Enter")

        rep.get_by_role("heading", name="Share with a buyer").wait_for()
        assert rep.locator(f'input[name=items][value="{TEMPLATE}"]').is_checked()
        assert rep.locator(f'input[name=items][value="{CALCULATOR}"]').is_checked()
        rep.get_by_label("A short note to the recipient").fill("The template we discussed.")
        deal = rep.get_by_label("Open deal")
        deal.select_option(index=1)
        deal_name = deal.locator("option:checked").inner_text().split(" (")[0]
        # Enter in the last field typed shares (it does not "find a deal").
        rep.get_by_label("Recipient's e-mail").fill("cfo@contoso-health.example")
        rep.get_by_label("Recipient's e-mail").press("Enter")

        url = rep.locator("#share-url").inner_text().strip()
        assert "/s/" in url
        activity_page = rep.url

        # The buyer: a browser of their own, nobody logged in.
        buyer_context = browser.new_context(viewport={"width": 1280, "height": 900},
                                            accept_downloads=True)
        buyer = buyer_context.new_page()
        buyer.on("pageerror", lambda e: errors.append(str(e)))
        buyer.goto(url)
        buyer.get_by_role("heading", name="Ryan Rep shared these with you").wait_for()
        assert "The template we discussed." in buyer.content()
        assert buyer.locator(".top-links, #search-box").count() == 0  # none of the portal
        buyer.get_by_role("link", name="Business case template for a revenue operations project",
                        exact=True).click()
        buyer.get_by_role("heading", level=1,
                          name="Business case template for a revenue operations project").wait_for()
        with buyer.expect_download() as caught:
            buyer.get_by_role("link", name="Download business-case-template.docx").click()
        download = caught.value
        assert download.suggested_filename == "business-case-template.docx"
        assert download.path().read_bytes()[:2] == b"PK"  # a Word document is a zip

        # The champion fills in the business case: a wrong date is refused beside its field,
        # with what was typed kept; then the filled document downloads.
        buyer.get_by_role("link", name="Fill in this business case").click()
        buyer.get_by_role("heading", name="Fill in this business case").wait_for()
        if buyer.get_by_label("Company").count():
            buyer.get_by_label("Company").fill("Contoso Health")
        buyer.get_by_label("Project name").fill("Forecasting you can sign off")
        buyer.get_by_label("Annual revenue").fill("250,000,000")
        buyer.get_by_label("Expected savings").fill("not a number")
        buyer.get_by_role("button", name="Download the filled-in Word document").click()
        buyer.locator(".error, .field-error").first.wait_for()
        assert buyer.get_by_label("Project name").input_value() == "Forecasting you can sign off"
        buyer.get_by_label("Expected savings").fill("1,200,000")
        with buyer.expect_download() as caught:
            buyer.get_by_role("button", name="Download the filled-in Word document").click()
        filled = caught.value
        assert filled.suggested_filename.endswith(" - Business case.docx")
        text = "\n".join(p.text for p in Document(io.BytesIO(filled.path().read_bytes())).paragraphs)
        assert "Forecasting you can sign off" in text
        buyer_context.close()

        rep.goto(activity_page)
        table = rep.locator("table.activity")
        table.wait_for()
        text = table.inner_text()
        assert "Opened the link" in text
        assert "Viewed “Business case template for a revenue operations project”" in text
        assert "Downloaded “Business case template for a revenue operations project”" in text
        assert ("Filled in and downloaded “Business case template for a revenue operations "
                "project”") in text
        assert deal_name in rep.locator(".share-facts").inner_text()
        # The first open left a notification, counted in the header until read.
        assert rep.locator(".notifications-link .count-badge").count() == 1
        rep.locator(".notifications-link").click()
        rep.get_by_role("link", name=re.compile(
            "Opened for the first time: the link you sent to cfo@contoso-health.example")).click()
        assert rep.url == activity_page
        assert rep.locator(".notifications-link .count-badge").count() == 0
        rep.goto(base + "/shares")
        assert "cfo@contoso-health.example" in rep.locator("table.share-links").inner_text()
        assert errors == []
        rep_context.close()
