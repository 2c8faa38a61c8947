"""The monthly review in Chromium: the charts render, on screen and in print, and axe-core
finds nothing to fix. Screenshots are left in the test's folder to look at."""

from __future__ import annotations

from datetime import date

import pytest

from portal.extensions import db
from tests.browser_support import chromium, live_server, need_browser
from tests.conftest import PASSWORD
from tests.test_monthly_review import add_items, build_months, deal

pytestmark = pytest.mark.browser

def axe_source() -> str:
    from axe_playwright_python.base import AXE_SCRIPT  # axe-core, shipped inside the wheel

    return AXE_SCRIPT


@pytest.fixture
def review_app(app, taxonomy, make_item, make_user):
    need_browser()
    add_items(make_item)
    with app.app_context():
        build_months(db.session)
        # Five deals closed in November: enough for rates, so the second chart has bars.
        deal(db.session, "lost-2", "lost-no-decision", date(2026, 11, 20))
        deal(db.session, "lost-3", "lost-competition", date(2026, 11, 21))
        db.session.commit()
    make_user("manager", email="manager@example.com")
    return app


def log_in(page, base: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill("manager@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_the_review_renders_prints_and_passes_axe(review_app, tmp_path):
    with live_server(review_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        log_in(page, base)
        page.goto(base + "/review/2026-11")
        page.get_by_role("heading", name="Monthly enablement review: November 2026").wait_for()

        charts = page.locator("figure svg[role=img]")
        assert charts.count() == 2
        for index in range(2):
            box = charts.nth(index).bounding_box()
            assert box and box["width"] > 400 and box["height"] > 150
            # pygal's bars are drawn (as rects or paths) and its style applied (CSP nonce).
            assert charts.nth(index).locator(".bar rect, .bar path").count() > 0
        fill = page.evaluate(
            "getComputedStyle(document.querySelector('figure svg .bar rect')).fill")
        assert fill not in ("", "rgb(0, 0, 0)")
        page.screenshot(path=str(tmp_path / "review-1280.png"), full_page=True)

        # Through the DevTools protocol: the page's CSP rightly refuses an inline script.
        page.evaluate(f"() => {{ {axe_source()}\n window.axe = axe; }}")
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        assert [(v["id"], [n["target"] for n in v["nodes"]][:3])
                for v in result["violations"]] == []
        assert len(result["passes"]) > 10  # axe really looked

        page.emulate_media(media="print")
        assert page.locator("header.top").is_hidden()
        assert page.locator("form.actions-form").is_hidden()
        assert charts.first.is_visible()
        page.screenshot(path=str(tmp_path / "review-print.png"), full_page=True)
        page.pdf(path=str(tmp_path / "review.pdf"))  # prints without error
        assert problems == []

        # Recording an action item in the browser lists it for December's meeting.
        page.emulate_media(media="screen")
        page.get_by_label("What was agreed").fill("Write the EU pricing sheet")
        page.get_by_label("Owner").fill("Anna")
        page.get_by_role("button", name="Record").click()
        page.get_by_text("Action item recorded").wait_for()
        page.goto(base + "/review/2026-12")
        assert "Write the EU pricing sheet" in page.locator("section#actions, "
                                                            "section[aria-labelledby=actions]"
                                                            ).inner_text()


def test_the_html_file_renders_offline_and_asks_for_nothing(review_app, tmp_path):
    out = tmp_path / "review.html"
    result = review_app.test_cli_runner().invoke(
        args=["report", "monthly", "--month", "2026-11", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requested = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(out.as_uri())
        charts = page.locator("figure svg[role=img]")
        assert charts.count() == 2 and charts.first.bounding_box()["height"] > 150
        assert page.locator("figure + .table-wrap > table.figures").count() == 2
        page.emulate_media(media="print")
        page.screenshot(path=str(tmp_path / "file-print.png"), full_page=True)
        assert requested == [out.as_uri()]
