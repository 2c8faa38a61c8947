"""A rep invites a buyer on the demo's Contoso deal; the buyer follows the link in a real
browser, chooses a password and lands in their deal room."""

from __future__ import annotations

import pytest

from tests.browser_support import chromium, live_server
from tests.test_browser import demo_app, log_in_as  # noqa: F401  (demo_app is a fixture)

pytestmark = pytest.mark.browser


def test_a_buyer_accepts_an_invitation_and_lands_in_their_deal_room(demo_app):  # noqa: F811
    with live_server(demo_app) as base, chromium() as browser:
        rep = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        rep.on("pageerror", lambda e: errors.append(str(e)))
        log_in_as(rep, base, "rep")
        rep.get_by_role("link", name="Champions").click()
        # The deal finder narrows the open deals as the rep types; picking one fills in
        # its account as the company.
        rep.get_by_label("Find a deal by name or account").fill("contoso")
        rep.locator("#deal-status").filter(has_text="1 open deal").wait_for()
        rep.get_by_label("Their deal").select_option(label="Contoso Health - Revenue forecasting "
                                                           "(Contoso Health)")
        assert rep.get_by_label("Their company").input_value() == "Contoso Health"
        rep.get_by_label("Buyer's e-mail").fill("dana.cfo@contoso-health.example")
        rep.get_by_label("Their name").fill("Dana Ortiz")
        rep.get_by_role("button", name="Send the invitation").click()
        link = rep.locator("#invitation-link").inner_text().strip()
        assert "/invitations/" in link

        buyer = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
        buyer.on("pageerror", lambda e: errors.append(str(e)))
        buyer.goto(link.replace("http://localhost", base))
        buyer.get_by_role("heading", name="Welcome, Dana Ortiz").wait_for()
        buyer.get_by_label("Choose a password").fill("Copper-Lagoon-58")
        buyer.get_by_label("Type it again").fill("Copper-Lagoon-58")
        buyer.get_by_role("button", name="Open my deal room").click()
        buyer.get_by_role("heading", name="Your deal room: Contoso Health").wait_for()
        # Ryan's demo share went to Contoso Health: a colleague of Chris sees it too.
        assert buyer.get_by_role("heading", name="Contoso Health - Revenue forecasting").is_visible()
        assert buyer.get_by_role("heading", name="Template library").is_visible()
        assert buyer.get_by_role("link", name="Deal stages").count() == 0
        # The link was for one use only.
        buyer.goto(link.replace("http://localhost", base))
        buyer.get_by_role("heading", name="This invitation link no longer works").wait_for()
        assert errors == []
