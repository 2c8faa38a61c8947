"""A rep in a real browser: log in, pick a stage, open an argument, copy a part."""

from __future__ import annotations

import pytest

from content_library.services.demo import DEMO_USERS, load_demo
from portal.extensions import db
from tests.browser_support import chromium, live_server, need_browser

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_app(app):
    need_browser()
    with app.app_context():
        load_demo(db.session, __import__("pathlib").Path(app.config["UPLOAD_DIR"]))
    return app


def demo_login(role: str) -> tuple[str, str]:
    person = next(p for p in DEMO_USERS if p.role == role)
    return person.email, person.password


def log_in_as(page, base: str, role: str) -> None:
    email, password = demo_login(role)
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Where is your buyer?").wait_for()


def test_rep_finds_an_argument_by_stage_and_copies_a_part(demo_app):
    with live_server(demo_app) as base, chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        log_in_as(page, base, "rep")

        page.locator(".stage-cards a", has_text="business case").first.click()
        page.locator(".stage-head h1").wait_for()
        assert "business case" in page.locator(".stage-head h1").inner_text().lower()

        page.locator(".card", has=page.locator(".type-sales-argument")).first \
            .locator(".card-title a").click()
        value = page.locator("#part-text-value_statement")
        value.wait_for()
        page.get_by_role("button", name="Copy Value statement").click()
        page.get_by_role("button", name="Copy Value statement").filter(has_text="Copied") \
            .wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == value.inner_text().strip() and len(copied) > 20

        page.screenshot(path=str(demo_app.config["UPLOAD_DIR"]) + "/../argument.png",
                        full_page=True)
        assert dialogs == [] and errors == []
        context.close()


def test_no_script_runs_from_stored_content(demo_app, make_user):
    from content_library.services import items as item_service

    with demo_app.app_context():
        item_service.save_item(db.session, item_service.ItemInput(
            slug="evil", title="<img src=x onerror=alert(1)>", type="case-study",
            audience="external", status="published", stages=("building-business-case",),
            summary="<script>alert(2)</script>",
            body="<script>alert(3)</script>\n\n[x](javascript:alert(4))\n\n<svg onload=alert(5)>",
            argument={"value_statement": "<b onmouseover=alert(6)>hi</b>"}), None)
    with live_server(demo_app) as base, chromium() as browser:
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        log_in_as(page, base, "rep")
        for path in ("/content/evil", "/stages/building-business-case"):
            page.goto(base + path)
            page.wait_for_load_state("load")
            page.mouse.move(200, 300)
        page.goto(base + "/content/evil")
        links = page.locator(".body a").evaluate_all("els => els.map(e => e.href)")
        assert not any(h.startswith("javascript:") for h in links)
        assert dialogs == []


def test_rep_searches_picks_a_suggestion_narrows_by_facet_and_opens_a_result(demo_app):
    with live_server(demo_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log_in_as(page, base, "rep")

        page.keyboard.press("/")  # the search box is one keystroke away
        assert page.evaluate("document.activeElement.id") == "search-box"
        page.keyboard.type("busin", delay=40)
        option = page.locator("#search-suggestions [role=option]").first
        option.wait_for()
        picked = option.inner_text()
        assert picked.lower().startswith("busin") or "busin" in picked.lower()
        option.click()
        page.wait_for_url("**/search?q=*")
        assert page.locator(".hit").count() > 0

        facet = page.locator(".facet").filter(has_text="Stakeholder").locator("label").first
        facet_name = facet.locator("span").first.inner_text()
        total_before = page.locator(".hit").count()
        facet.click()
        page.wait_for_url("**stakeholder=*")
        assert page.locator(".facet input:checked").count() == 1
        assert page.locator(".hit").count() <= total_before
        first = page.locator(".hit .card-title a").first
        title = first.inner_text()
        first.click()
        page.locator("article.item h1").wait_for()
        assert page.locator("article.item h1").inner_text() == title
        assert facet_name in page.locator(".facts").inner_text()
        assert errors == []


def test_picking_a_title_suggestion_opens_the_item(demo_app):
    with live_server(demo_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log_in_as(page, base, "rep")

        page.keyboard.press("/")
        page.keyboard.type("mutual clo", delay=40)
        titles = page.locator("#search-suggestions [role=option][data-url]")
        titles.filter(has_text="Mutual close plan").wait_for()
        for _ in range(page.locator("#search-suggestions [role=option]").count()):
            page.keyboard.press("ArrowDown")
            if page.locator("#search-suggestions [aria-selected=true][data-url]").count():
                break
        page.keyboard.press("Enter")
        page.wait_for_url("**/content/*")
        assert page.locator("article.item h1").inner_text() == "Mutual close plan"
        assert errors == []
