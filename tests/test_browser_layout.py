"""Layout a person sees in Chromium: the stage bar at desktop and phone widths, and long
words that must wrap rather than widen the page sideways."""

from __future__ import annotations

from dataclasses import replace

import pytest

from content_library.services import items as item_service
from portal.extensions import db
from tests.browser_support import chromium, live_server
from tests.conftest import PASSWORD
from tests.test_browser import demo_app, log_in_as  # noqa: F401  (demo_app is a fixture)

pytestmark = pytest.mark.browser

LONG_EMAIL = "maximilian.alexander.featherstonehaugh-worthington" \
             "@enablement-and-marketing-operations-department.example-corporation.example"
LONG_QUERY = "competitivedisplacementbattlecardforprocurementandlegalreviewersin" \
             "healthcareandretailverticals"


def stage_bar(page) -> dict:
    return page.evaluate("""() => {
        const bar = document.querySelector('nav.journey');
        const links = [...bar.querySelectorAll('li a')].map(a => {
            const box = a.getBoundingClientRect();
            return {left: box.left, right: box.right};
        });
        return {links, scroll: bar.scrollWidth, width: bar.clientWidth,
                viewport: document.documentElement.clientWidth,
                background: getComputedStyle(bar).backgroundImage};
    }""")


def test_all_eight_stages_are_visible_at_desktop_width(demo_app):  # noqa: F811
    with live_server(demo_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        log_in_as(page, base, "rep")
        bar = stage_bar(page)
        assert len(bar["links"]) == 8
        assert bar["scroll"] <= bar["width"]
        assert all(link["left"] >= 0 and link["right"] <= bar["viewport"] for link in bar["links"])


def test_on_a_phone_the_stage_bar_scrolls_and_shows_that_it_does(demo_app):  # noqa: F811
    with live_server(demo_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        log_in_as(page, base, "rep")
        bar = stage_bar(page)
        assert bar["scroll"] > bar["width"]
        assert "radial-gradient" in bar["background"]  # the edge shadow that says "more"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375


@pytest.mark.parametrize("width", [375, 1280])
def test_a_long_e_mail_and_a_long_query_wrap_instead_of_widening_the_page(
        demo_app, make_user, width):  # noqa: F811
    person_id, _ = make_user("admin", email=LONG_EMAIL, name="Maximilian Featherstonehaugh")
    with demo_app.app_context():
        item = item_service.get_item(db.session, "forecast-you-can-plan-on-cfo")
        data = item_service.input_from_snapshot(item_service.snapshot(item))
        item_service.save_item(db.session, replace(data, owner=LONG_EMAIL),
                               None, existing=item)
    with live_server(demo_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.goto(base + "/login")
        page.get_by_label("E-mail").fill(LONG_EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("load")
        for path in ("/account", f"/admin/users/{person_id}", "/admin/users",
                     "/content/forecast-you-can-plan-on-cfo", f"/search?q={LONG_QUERY}",
                     f"/search?q=business+{LONG_QUERY}"):
            page.goto(base + path)
            page.wait_for_load_state("load")
            sideways = page.evaluate("document.documentElement.scrollWidth")
            assert sideways <= width, f"{path} is {sideways} px wide at {width} px"


def test_two_typed_lines_of_an_argument_part_keep_their_line_break(demo_app):  # noqa: F811
    with demo_app.app_context():
        item = item_service.get_item(db.session, "forecast-you-can-plan-on-cfo")
        data = item_service.input_from_snapshot(item_service.snapshot(item))
        argument = {**data.argument, "value_statement": "First typed line.\nSecond typed line."}
        item_service.save_item(db.session, replace(data, argument=argument), None, existing=item)
    with live_server(demo_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        log_in_as(page, base, "rep")
        page.goto(base + "/content/forecast-you-can-plan-on-cfo")
        shown = page.locator("#part-text-value_statement").inner_text()
        assert shown.strip() == "First typed line.\nSecond typed line."
