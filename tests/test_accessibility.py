"""Every page of every role through axe-core: no serious or critical WCAG 2.2 AA violation,
at desktop and at phone width; and the keyboard's way in (skip link, visible focus).

The pages come from the app's URL map, so a page added later is checked without anyone
listing it here. A path parameter is filled from the demo library (PATH_VALUES); a page
whose parameters cannot be filled must be named in SKIPPED with the reason, and the test
fails on any other, so nothing is left out unseen.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from content_library.models import ContentItem, ContentRequest, Deal, Stage, User
from content_library.services import champions, share_links
from content_library.services import items as item_service
from portal.extensions import db
from tests.browser_support import chromium, live_server
from tests.test_browser import demo_app, demo_login  # noqa: F401  (demo_app is a fixture)

pytestmark = pytest.mark.browser

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("serious", "critical")
WIDTHS = (1280, 375)
ROLES = ("admin", "manager", "rep", "champion", None)  # None: nobody logged in

# Endpoints (or whole blueprints) that are not pages, or whose parameters the demo library
# cannot fill: why. Other JSON and file answers are left out by their content type.
SKIPPED = {
    "static": "stylesheet, script and icon files, not pages",
    "api": "the JSON API, not pages",
    "library.download": "an item's file, a download",
    # /content/<slug>/… takes the demo's argument item, which is no template: these two are
    # checked in extra_pages() with the demo's business case instead.
    "business_cases.fill": "needs a template item: in extra_pages() with the business case",
    "business_cases.template_fields": "needs a template item: in extra_pages() with the "
                                      "business case",
    "buyer.download": "an item's file through a share link, a download",
    "health": "the /healthz and /readyz probes: JSON for load balancers, not pages",
}


def demo_values(app) -> dict:
    """Path values from the demo library, keyed by the path's first segment, then by
    parameter name: `/content/<slug>` is an item, `/stages/<slug>` a stage."""
    with app.app_context():
        session = db.session
        argument = session.scalars(select(ContentItem).where(
            ContentItem.status == "published", ContentItem.audience == "internal",
            ContentItem.argument != {}).order_by(ContentItem.slug)).first()
        # A second version, so the version and compare pages show a real change.
        data = item_service.input_from_snapshot(item_service.snapshot(argument))
        item_service.save_item(session, replace(data, summary=data.summary + " Now in short."),
                               None, existing=argument)
        stage = session.scalars(select(Stage).order_by(Stage.position)).first().slug
        rep = session.scalars(select(User).where(User.role == "rep")).first().id
        asked = session.scalars(select(ContentRequest.id).order_by(ContentRequest.id)).first()
        last_month = date.today().replace(day=1) - timedelta(days=1)
        link, token = shared_link(session)
        inviter = session.scalars(select(User).where(User.role == "rep")).first()
        _, invitation = champions.invite(session, inviter, champions.NewInvitation(
            email="nia.new@contoso-health.example", name="Nia New", company="Contoso Health"))
        return {
            "content": {"slug": argument.slug, "number": 1, "target": "archived"},
            "stages": {"slug": stage},
            "admin": {"user_id": rep, "kind": "stages", "slug": stage, "request_id": asked},
            "review": {"key": last_month.strftime("%Y-%m"), "kind": "html"},
            # A link the demo rep shared: its buyer pages (opened by every role, and by nobody
            # logged in) and the rep's page of it.
            "s": {"token": token, "slug": link.items[0].slug},
            "shares": {"share_id": link.id},
            "invitations": {"token": invitation},
        }


def shared_link(session):
    """A link from the demo rep to a buyer: the business-case template (a file, and a fill-in
    form), another external item, a note, an open deal."""
    rep = session.scalars(select(User).where(User.email == demo_login("rep")[0])).one()
    external = session.scalars(select(ContentItem).where(
        ContentItem.status == "published", ContentItem.audience == "external")
        .order_by(ContentItem.file_id.is_(None), ContentItem.slug)).all()
    deal = session.scalars(select(Deal).where(Deal.is_closed.is_(False)).order_by(Deal.id)).first()
    return share_links.create(session, rep, share_links.ShareRequest(
        content=("business-case-template-revenue-project", external[-1].slug),
        recipient="cfo@contoso-health.example", expires_in_days=14, deal=deal,
        note="Here is what we discussed on Tuesday."))


def extra_pages(app) -> list[str]:
    """States of a page that one URL per rule does not show."""
    with app.app_context():
        session = db.session

        def first(*conditions) -> str:
            return session.scalars(select(ContentItem.slug).where(*conditions)
                                   .order_by(ContentItem.slug)).first()

        with_file = first(ContentItem.status == "published", ContentItem.audience == "external",
                          ContentItem.file_id.is_not(None))
        archived = first(ContentItem.status == "archived")
        argument = first(ContentItem.version > 1)
        template = first(ContentItem.slug == "business-case-template-revenue-project")
        internal = first(ContentItem.status == "published", ContentItem.audience == "internal")
    return [
        f"/content/{template}/fill",  # the fill-in form (a champion's, a rep's with deals)
        f"/content/{template}/template-fields",  # the managers' field editor
        f"/content/{with_file}",  # a file to download; the item a champion may open
        f"/content/{archived}",  # the archived notice
        f"/content/{argument}/versions/compare?from=1&to=2",
        "/search?q=business+case",  # results beside their facets
        "/search?q=zzqxv",  # no results: the ask-marketing form
        "/library?status=draft",
        f"/shares/new?item={with_file}&item={internal}",  # items picked, one left out
        "/no-such-page",  # the error page
        "/invitations/" + "x" * 43,  # an invitation link that no longer works
        "/invitations?deal_filter=contoso",  # the deal finder without script
    ]


def page_paths(app, values: dict) -> tuple[list[str], dict[str, str]]:
    """One path per GET rule; and the rules left unfilled, with the parameters missing."""
    paths, unfilled = [], {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or {rule.endpoint, rule.endpoint.split(".")[0]} & SKIPPED.keys():
            continue
        known = values.get(rule.rule.strip("/").split("/")[0], {})
        missing = sorted(rule.arguments - known.keys())
        if missing:
            unfilled[rule.rule] = ", ".join(missing)
            continue
        paths.append(rule.build({name: known[name] for name in rule.arguments},
                                append_unknown=False)[1])
    return sorted(set(paths)), unfilled


def log_in(page, base: str, role: str | None) -> None:
    if role is None:
        return
    email, password = demo_login(role)
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def is_page(response, explicit: bool) -> bool:
    """An HTML page this role may open; not a redirect, a file or JSON. A page listed
    explicitly is checked whatever its status (the error page answers 404)."""
    if response.headers.get("content-type", "").split(";")[0] != "text/html":
        return False
    if "attachment" in response.headers.get("content-disposition", ""):
        return False
    return response.status < 300 or (explicit and response.status >= 400)


def answered(response) -> bool:
    """Neither refused nor sent to log in: the path's values named something real."""
    return response.status < 400 and "/login" not in response.headers.get("location", "")


# axe's full answer (every passing check too) is large; the page hands back only what fails.
RUN_AXE = """([options, blocking]) => axe.run(document, options).then(results => results.violations
    .filter(v => blocking.includes(v.impact))
    .flatMap(v => v.nodes.map(node => ({rule: v.id, impact: v.impact, help: v.help,
                                        target: node.target.join(" ")}))))"""


def blocking_violations(page, where: str) -> list[str]:
    found = page.evaluate(RUN_AXE, [{"runOnly": {"type": "tag", "values": WCAG_22_AA},
                                     "resultTypes": ["violations"]}, BLOCKING])
    return [f"{where}: {v['rule']} ({v['impact']}) at {v['target']} — {v['help']}" for v in found]


def sideways_scroll(page, where: str, width: int) -> list[str]:
    """WCAG 1.4.10: the page reflows instead of scrolling sideways (a wide table scrolls
    inside its own wrapper)."""
    wide = page.evaluate("document.documentElement.scrollWidth")
    return [f"{where}: the page is {wide} px wide"] if wide > width else []


def test_every_page_of_every_role_passes_axe_at_desktop_and_phone_width(demo_app):  # noqa: F811
    from axe_playwright_python.base import AXE_SCRIPT  # axe-core, shipped inside the wheel

    paths, unfilled = page_paths(demo_app, demo_values(demo_app))
    assert not unfilled, (
        "pages whose path parameters the accessibility test cannot fill: add a value to "
        f"demo_values() or the endpoint to SKIPPED with the reason: {unfilled}")
    extras = extra_pages(demo_app)
    found, reached = [], set()
    with live_server(demo_app) as base, chromium() as browser:
        for role in ROLES:
            context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
            page = context.new_page()
            log_in(page, base, role)
            for path in paths + extras:
                response = context.request.get(base + path, max_redirects=0)
                if answered(response):
                    reached.add(path)
                if not is_page(response, explicit=path in extras):
                    continue
                reached.add(path)
                page.goto(base + path)
                page.evaluate(AXE_SCRIPT)
                for width in WIDTHS:
                    page.set_viewport_size({"width": width, "height": 900})
                    where = f"{path} as {role or 'nobody'} at {width} px"
                    found += blocking_violations(page, where)
                    found += sideways_scroll(page, where, width)
                page.set_viewport_size({"width": WIDTHS[0], "height": 900})
            context.close()
    assert not found, "\n".join(found)
    never = sorted(set(paths + extras) - reached)
    assert not never, f"no role could open these paths (a wrong demo value?): {never}"


def test_the_skip_link_shows_on_the_first_tab_and_moves_focus_to_the_page(demo_app):  # noqa: F811
    with live_server(demo_app) as base, chromium() as browser:
        for width in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": 800})
            log_in(page, base, "rep")
            page.keyboard.press("Tab")
            skip = page.get_by_role("link", name="Skip to content")
            assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
            box = skip.bounding_box()
            assert box and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width
            page.keyboard.press("Enter")
            page.keyboard.press("Tab")
            # The next stop is inside the page's main part, not the header's links again.
            assert page.evaluate("!!document.activeElement.closest('main')")
            page.close()


# The focused control's ring: an outline at least 2 px wide whose colour stands out 3:1
# from the background around it (WCAG 1.4.11), or a box shadow.
FOCUS_RING = """() => {
    const el = document.activeElement, style = getComputedStyle(el);
    const luminance = colour => {
        const [r, g, b] = colour.match(/[\\d.]+/g).slice(0, 3).map(v => {
            v = v / 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    let around = el.parentElement;
    while (around && /rgba\\(.*, 0\\)|transparent/.test(getComputedStyle(around).backgroundColor)) {
        around = around.parentElement;
    }
    const [a, b] = [luminance(style.outlineColor),
                    luminance(around ? getComputedStyle(around).backgroundColor : "rgb(255,255,255)")];
    const contrast = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
    return {html: el.outerHTML.slice(0, 100), body: el === document.body,
            ring: (outline && contrast >= 3) || style.boxShadow !== "none"};
}"""


@pytest.mark.parametrize("role, path", [("rep", "/"), ("manager", "/library"),
                                        ("admin", "/admin/users/new"), ("rep", "/search?q=roi")])
def test_every_control_shows_a_focus_ring_when_tabbed_to(demo_app, role, path):  # noqa: F811
    with live_server(demo_app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        log_in(page, base, role)
        page.goto(base + path)
        seen, unringed = 0, []
        for _ in range(80):
            page.keyboard.press("Tab")
            state = page.evaluate(FOCUS_RING)
            if state["body"]:  # past the last control
                break
            seen += 1
            if not state["ring"]:
                unringed.append(state["html"])
        assert seen > 5 and not unringed, unringed
