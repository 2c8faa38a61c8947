"""A manager's month in Chromium, on the demo's story: the effectiveness page, the monthly
review with its charts, and a CSV download whose cells a spreadsheet would not run."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from content_library.services.demo import load_demo
from content_library.services.search_words import log_search
from portal.extensions import db
from tests.browser_support import chromium, live_server, need_browser

pytestmark = pytest.mark.browser

TYPED_FORMULAS = ('=HYPERLINK("http://evil.example","x")', "@SUM(1+1)", "+1+1", "-2+3")


@pytest.fixture
def demo_app(app):
    need_browser()
    with app.app_context():
        load_demo(db.session, Path(app.config["UPLOAD_DIR"]))
        for text in TYPED_FORMULAS:  # what a rep typed into search, now in the backlog
            log_search(db.session, text, 0, "rep")
    return app


def test_a_manager_reads_effectiveness_and_the_review_and_downloads_a_safe_csv(demo_app, tmp_path):
    last_month = date.today().replace(day=1)
    month = f"{last_month.year - (last_month.month == 1)}-{(last_month.month - 2) % 12 + 1:02}"
    with live_server(demo_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/login")
        page.get_by_label("E-mail").fill("maria.marketing@demo.example")
        page.get_by_label("Password").fill("Manager-demo-2026")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/login" not in url)

        page.get_by_role("link", name="Analytics").first.click()
        page.goto(base + "/analytics/effectiveness?from=" + f"{date.today().year - 1}-01-01")
        page.get_by_role("heading", name="Effectiveness").wait_for()
        text = page.locator("main").inner_text()
        assert "Close rate" in text and "Win rate" in text
        assert "n =" in text or "n=" in text  # every rate says what it rests on
        page.screenshot(path=str(tmp_path / "effectiveness.png"), full_page=True)

        page.get_by_role("link", name="Monthly review").first.click()
        page.goto(f"{base}/review/{month}")
        charts = page.locator("figure svg[role=img]")
        charts.first.wait_for()
        assert charts.count() >= 1
        assert charts.first.bounding_box()["height"] > 100
        assert page.locator("figure svg .bar rect, figure svg .bar path").count() > 0
        page.screenshot(path=str(tmp_path / "review.png"), full_page=True)

        page.goto(base + "/analytics/searches?from=" + f"{date.today().year - 1}-01-01")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download CSV").click()
        saved = tmp_path / "searches.csv"
        download.value.save_as(saved)
        assert errors == []

    with saved.open(newline="", encoding="utf-8-sig") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    for typed in TYPED_FORMULAS:
        stored = " ".join(typed.lower().split())
        assert "'" + stored in cells, f"{typed!r} is not in the CSV as inert text"
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
