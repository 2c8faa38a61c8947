"""What managers see: the analytics API and pages, on usage written directly to the database."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from content_library.models import ContentItem, Deal, DealStageEntry, SearchLog, UsageEvent
from content_library.services import items as item_service
from content_library.spreadsheet import csv_text, safe_cell
from tests.conftest import csrf_from, log_in

OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}
ENDPOINTS = ("content", "effectiveness", "stages", "searches")


@pytest.fixture
def add_usage(app):
    """Writes usage events as the recording would: kind, item, who, when, deal, stage."""
    from portal.extensions import db

    def add(kind: str, item: str | None, at: datetime, user_id: int | None = None,
            deal_id: int | None = None, stage: str | None = None, **details):
        with app.app_context():
            item_id = db.session.scalar(select(ContentItem.id).where(ContentItem.slug == item))
            db.session.add(UsageEvent(kind=kind, item_id=item_id, item_slug=item, user_id=user_id,
                                      role="rep", deal_id=deal_id, stage=stage, occurred_at=at,
                                      details=details))
            db.session.commit()

    return add


@pytest.fixture
def in_db(app):
    """Runs work(session) in an app context of its own and commits: several logged-in
    clients in one test must not share one app context (its `g` holds the CSRF token)."""
    from portal.extensions import db

    def run(work):
        with app.app_context():
            result = work(db.session)
            db.session.commit()
            return result

    return run


def field_of(in_db, slug: str, name: str):
    return in_db(lambda s: getattr(item_service.get_item(s, slug), name))


@pytest.fixture
def people(app, make_user):
    """A client per role, each logged in; and the users' (id, email)."""
    found = {}
    for role in ("manager", "admin", "rep", "champion"):
        user_id, email = make_user(role)
        client = app.test_client()
        assert log_in(client, email).status_code == 302
        found[role] = (client, user_id, email)
    return found


def manager(people):
    return people["manager"][0]


@pytest.fixture
def october(make_item, add_usage, people):
    """Two items; use of the first in and around October 2026, worked out by hand below."""
    make_item("roi-calculator", review_by=date(2030, 1, 1))
    make_item("old-deck", review_by=date(2020, 1, 1), owner=people["rep"][2])
    rep, admin = people["rep"][1], people["admin"][1]
    add_usage("view", "roi-calculator", datetime(2026, 10, 1, 0, 0), rep)  # first moment counts
    add_usage("view", "roi-calculator", datetime(2026, 10, 2, 9), rep)  # same viewer again
    add_usage("view", "roi-calculator", datetime(2026, 10, 3, 9), admin)
    add_usage("view", "roi-calculator", datetime(2026, 11, 1, 0, 0), admin)  # after the period
    add_usage("view", "roi-calculator", datetime(2026, 9, 30, 23, 59), rep)  # before it
    add_usage("download", "roi-calculator", datetime(2026, 10, 5, 9), rep)
    add_usage("download", "roi-calculator", datetime(2026, 10, 6, 9), rep)
    add_usage("copy", "roi-calculator", datetime(2026, 10, 7, 9), rep, stage="negotiating")
    add_usage("share", "roi-calculator", datetime(2026, 10, 8, 9), rep)
    add_usage("share_open", "roi-calculator", datetime(2026, 10, 9, 9))
    add_usage("share_open", "roi-calculator", datetime(2026, 10, 31, 23, 59, 59))  # last moment


# ---- the API ------------------------------------------------------------------------------


def test_content_counts_each_kind_over_the_inclusive_period(october, people):
    answer = manager(people).get("/api/v1/analytics/content", query_string=OCTOBER)
    assert answer.status_code == 200
    rows = {row["slug"]: row for row in answer.get_json()}
    assert rows["roi-calculator"] == {
        "slug": "roi-calculator", "views": 3, "unique_viewers": 2, "downloads": 2, "shares": 1,
        "share_opens": 2, "last_used": "2026-10-31T23:59:59Z", "stale": False}
    assert rows["old-deck"] == {
        "slug": "old-deck", "views": 0, "unique_viewers": 0, "downloads": 0, "shares": 0,
        "share_opens": 0, "last_used": None, "stale": True}


def test_without_dates_the_period_is_the_last_30_days(make_item, add_usage, people):
    make_item("roi-calculator")
    now = datetime.combine(date.today(), datetime.min.time())
    add_usage("view", "roi-calculator", now - timedelta(days=29), people["rep"][1])  # counts
    add_usage("view", "roi-calculator", now - timedelta(days=30), people["rep"][1])  # does not
    rows = manager(people).get("/api/v1/analytics/content").get_json()
    assert rows[0]["views"] == 1


def test_searches_most_frequent_first_with_zero_results(app, people):
    from portal.extensions import db

    with app.app_context():
        for query, results, day in [("roi", 3, 2), ("roi", 0, 3), ("roi", 0, 4),
                                    ("gdpr", 0, 5), ("pricing", 2, 6), ("pricing", 2, 7),
                                    ("roi", 0, 1)]:
            db.session.add(SearchLog(query=query, results=results, role="rep",
                                     at=datetime(2026, 10, day, 12) if day > 1
                                     else datetime(2026, 9, 30, 12)))  # the last is September
        db.session.commit()
    answer = manager(people).get("/api/v1/analytics/searches", query_string=OCTOBER).get_json()
    assert answer == [{"query": "roi", "count": 3, "zero_results": 2},
                      {"query": "pricing", "count": 2, "zero_results": 0},
                      {"query": "gdpr", "count": 1, "zero_results": 1}]


def test_effectiveness_and_stages_answer_the_section_7_shapes(in_db, make_item, add_usage,
                                                              people):
    make_item("roi-calculator")
    won = Deal(source="salesforce", crm_id="d1", name="Won", amount=100, crm_stage="Closed Won",
               is_closed=True, outcome="won", close_date=date(2026, 10, 10),
               history=[DealStageEntry(crm_stage="Negotiating", stage="negotiating",
                                       entered_at=datetime(2026, 10, 1))])
    lost = Deal(source="salesforce", crm_id="d2", name="Lost", amount=300,
                crm_stage="Closed Lost", is_closed=True, outcome="lost-competition",
                close_date=date(2026, 10, 20))
    won_id = in_db(lambda s: (s.add_all([won, lost]), s.flush(), won.id)[-1])
    add_usage("used_in_deal", "roi-calculator", datetime(2026, 10, 9), people["rep"][1],
              deal_id=won_id)
    client = manager(people)
    found = client.get("/api/v1/analytics/effectiveness", query_string=OCTOBER).get_json()
    assert found["baseline"]["close_rate"] == 0.5
    assert found["baseline"]["close_rate_amount"] == 0.25
    assert found["baseline"]["won"] == 1 and found["baseline"]["lost_competition"] == 1
    assert len(found["baseline"]["close_rate_ci"]) == 2
    [item] = found["items"]
    assert item["slug"] == "roi-calculator" and item["deals"] == 1
    assert item["close_rate"] == 1.0 and item["lift"] == 0.5
    stages = client.get("/api/v1/analytics/stages", query_string=OCTOBER).get_json()
    assert [s["slug"] for s in stages] == ["understanding-offerings", "building-business-case",
                                           "negotiating"]
    assert stages[2] == {"slug": "negotiating", "entered": 1, "left": 1, "converted": 1,
                         "conversion": 1.0, "avg_days": 9.0}
    assert set(stages[0]) == {"slug", "entered", "left", "converted", "conversion", "avg_days"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_reps_and_champions_are_refused_managers_and_admins_served(people, taxonomy, endpoint):
    for role, status in (("rep", 403), ("champion", 403), ("manager", 200), ("admin", 200)):
        answer = people[role][0].get(f"/api/v1/analytics/{endpoint}")
        assert answer.status_code == status, role
        if status == 403:
            assert "error" in answer.get_json()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_bad_dates_answer_400(people, taxonomy, endpoint):
    client = manager(people)
    for query in ({"from": "2026-13-01"}, {"to": "yesterday"},
                  {"from": "2026-10-31", "to": "2026-10-01"}):
        answer = client.get(f"/api/v1/analytics/{endpoint}", query_string=query)
        assert answer.status_code == 400, query
        assert answer.get_json()["error"]


def test_the_api_wants_a_caller(client, taxonomy):
    assert client.get("/api/v1/analytics/content").status_code == 401


# ---- CSV ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1",
                                  '=HYPERLINK("http://evil")'])
def test_cells_a_spreadsheet_would_run_get_a_quote(text):
    assert safe_cell(text) == "'" + text
    row = next(csv.reader(io.StringIO(csv_text(["h"], [[text]]).split("\r\n", 1)[1])))
    assert row == ["'" + text]


def test_harmless_cells_stay_as_they_are():
    assert safe_cell("ROI calculator") == "ROI calculator"
    assert safe_cell(-3) == -3 and safe_cell(2.5) == 2.5 and safe_cell(None) == ""
    assert safe_cell("a=b") == "a=b"


def test_every_csv_download_neutralises_formulas(app, make_item, add_usage, people):
    from portal.extensions import db

    make_item("evil", title="=HYPERLINK(\"http://evil.example\",\"x\")", owner="-rep@example.com")
    add_usage("view", "evil", datetime(2026, 10, 2), people["rep"][1])
    with app.app_context():
        db.session.add(SearchLog(query="@cmd", results=0, role="rep", at=datetime(2026, 10, 2)))
        db.session.commit()
    client = manager(people)
    usage = client.get("/analytics/usage", query_string={**OCTOBER, "format": "csv"})
    assert usage.status_code == 200 and usage.mimetype == "text/csv"
    assert usage.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(usage.get_data(as_text=True))))
    assert rows[0]["title"].startswith("'=HYPERLINK") and rows[0]["owner"] == "'-rep@example.com"
    searches = client.get("/analytics/searches", query_string={**OCTOBER, "format": "csv"})
    assert "'@cmd" in searches.get_data(as_text=True)
    for page in ("idle", "stages", "effectiveness"):
        answer = client.get(f"/analytics/{page}", query_string={**OCTOBER, "format": "csv"})
        assert answer.status_code == 200 and answer.mimetype == "text/csv", page


# ---- sorting and filters ------------------------------------------------------------------


def _usage_slugs(client, **query) -> list[str]:
    answer = client.get("/analytics/usage", query_string={**OCTOBER, "format": "csv", **query})
    assert answer.status_code == 200
    return [row["slug"] for row in csv.DictReader(io.StringIO(answer.get_data(as_text=True)))]


def test_usage_sorts_by_allowed_columns_only(october, make_item, add_usage, people):
    make_item("battle-card")
    for day in (1, 2, 3, 4, 5):
        add_usage("download", "battle-card", datetime(2026, 10, day), people["rep"][1])
    client = manager(people)
    assert _usage_slugs(client) == ["roi-calculator", "battle-card", "old-deck"]  # views
    assert _usage_slugs(client, sort="downloads") == ["battle-card", "roi-calculator", "old-deck"]
    assert _usage_slugs(client, sort="downloads", dir="asc") == [
        "old-deck", "roi-calculator", "battle-card"]
    assert _usage_slugs(client, sort="last_used", dir="asc")[-1] == "old-deck"  # never: last
    for hostile in ("title; DROP TABLE usage_events", "ContentItem.id", "__class__", "1"):
        assert _usage_slugs(client, sort=hostile) == ["roi-calculator", "battle-card", "old-deck"]
    page = client.get("/analytics/usage", query_string={"sort": "title; DROP TABLE x"})
    assert page.status_code == 200


def test_usage_filters_by_stage_type_and_owner(october, people):
    client = manager(people)
    rows = {r["slug"]: r for r in csv.DictReader(io.StringIO(client.get(
        "/analytics/usage", query_string={**OCTOBER, "format": "csv", "stage": "negotiating"})
        .get_data(as_text=True)))}
    assert rows["roi-calculator"]["copies"] == "1" and rows["roi-calculator"]["views"] == "0"
    assert _usage_slugs(client, owner=people["rep"][2]) == ["old-deck"]
    assert _usage_slugs(client, type="battle-card") == []


# ---- pages --------------------------------------------------------------------------------

PAGES = ("/analytics", "/analytics/usage", "/analytics/idle", "/analytics/searches",
         "/analytics/stages", "/analytics/effectiveness")


def test_pages_render_for_managers_without_data(people, taxonomy):
    client = manager(people)
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 200, path
    assert "No deals imported yet" in client.get("/analytics/effectiveness").get_data(as_text=True)
    assert "portal deals import" in client.get("/analytics/stages").get_data(as_text=True)
    assert "No searches in this period" in client.get("/analytics/searches").get_data(as_text=True)
    assert ">Analytics</a>" in client.get("/analytics").get_data(as_text=True)


def test_pages_render_for_managers_with_data(october, people, in_db):
    in_db(lambda s: s.add_all([
        Deal(source="salesforce", crm_id="d1", name="Won", amount=100, crm_stage="Closed",
             is_closed=True, outcome="won", close_date=date(2026, 10, 10)),
        SearchLog(query="gdpr", results=0, role="rep", at=datetime(2026, 10, 3))]))
    client = manager(people)
    for path in PAGES:
        answer = client.get(path, query_string=OCTOBER)
        assert answer.status_code == 200, path
    usage = client.get("/analytics/usage", query_string=OCTOBER).get_data(as_text=True)
    assert "Roi Calculator" in usage and 'aria-sort="descending"' in usage
    effect = client.get("/analytics/effectiveness", query_string=OCTOBER).get_data(as_text=True)
    assert "too few deals" in effect and "not a cause" in effect
    assert "gdpr" in client.get("/analytics/searches", query_string=OCTOBER).get_data(as_text=True)


def test_pages_refuse_reps_and_hide_the_nav_entry(people, taxonomy):
    for role in ("rep", "champion"):
        client = people[role][0]
        for path in PAGES:
            assert client.get(path).status_code == 403, (role, path)
    assert ">Analytics</a>" not in people["rep"][0].get("/").get_data(as_text=True)


def test_a_bad_period_on_a_page_is_explained_and_kept(people, taxonomy):
    answer = manager(people).get("/analytics/usage", query_string={"from": "2026-02-30"})
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "expected a date like" in html and 'value="2026-02-30"' in html


# ---- unused and stale, with undo ----------------------------------------------------------


def _idle_post(client, path: str, **form):
    token = csrf_from(client.get("/analytics/idle").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **form})


def test_unused_and_stale_lists(make_item, add_usage, people):
    make_item("fresh", review_by=date.today() + timedelta(days=10))
    make_item("forgotten", review_by=date.today() - timedelta(days=3))
    make_item("draft-only", status="draft")
    add_usage("view", "fresh", datetime.now() - timedelta(days=5), people["rep"][1])
    add_usage("view", "forgotten", datetime.now() - timedelta(days=100), people["rep"][1])
    client = manager(people)
    html = client.get("/analytics/idle").get_data(as_text=True)
    unused_part, stale_part = html.split("Past their review date")
    assert "Forgotten" in unused_part and "Fresh" not in unused_part
    assert "Draft Only" not in html  # only published items can be unused
    assert "Forgotten" in stale_part
    html = client.get("/analytics/idle", query_string={"days": "200"}).get_data(as_text=True)
    assert "Forgotten" not in html.split("Past their review date")[0]
    assert client.get("/analytics/idle", query_string={"days": "ninety"}).status_code == 400


def test_archive_then_undo(in_db, make_item, people):
    make_item("forgotten")
    client = manager(people)
    answer = _idle_post(client, "/analytics/idle/forgotten/archive", days="90")
    assert answer.status_code == 302
    assert field_of(in_db, "forgotten", "status") == "archived"
    assert field_of(in_db, "forgotten", "version") == 2
    page = client.get("/analytics/idle").get_data(as_text=True)
    assert "Archived forgotten" in page and ">Undo</button>" in page
    token = csrf_from(page)
    assert client.post("/analytics/undo", data={"csrf_token": token}).status_code == 302
    assert field_of(in_db, "forgotten", "status") == "published"
    assert field_of(in_db, "forgotten", "version") == 3
    assert "Undone" in client.get("/analytics/idle").get_data(as_text=True)
    # The undo is spent: a second one changes nothing.
    client.post("/analytics/undo", data={"csrf_token": token})
    assert field_of(in_db, "forgotten", "version") == 3


def test_renew_review_date_then_undo(in_db, make_item, people):
    make_item("forgotten", review_by=date(2020, 1, 1))
    client = manager(people)
    _idle_post(client, "/analytics/idle/forgotten/renew")
    assert field_of(in_db, "forgotten", "review_by") == date.today() + timedelta(days=90)
    _idle_post(client, "/analytics/idle/forgotten/renew", until="2099-05-01")
    assert field_of(in_db, "forgotten", "review_by") == date(2099, 5, 1)
    _idle_post(client, "/analytics/idle/forgotten/renew", until="soon")
    assert field_of(in_db, "forgotten", "review_by") == date(2099, 5, 1)
    _idle_post(client, "/analytics/undo")
    assert field_of(in_db, "forgotten", "review_by") == date.today() + timedelta(days=90)


def test_reassign_then_undo_and_undo_refused_after_another_edit(in_db, make_item, people):
    make_item("forgotten", owner=people["manager"][2])
    client = manager(people)
    _idle_post(client, "/analytics/idle/forgotten/reassign", owner=people["admin"][2])
    assert field_of(in_db, "forgotten", "owner_email") == people["admin"][2]
    # Reassigning to someone without a staff account is refused, and loses nothing.
    _idle_post(client, "/analytics/idle/forgotten/reassign", owner=people["champion"][2])
    assert field_of(in_db, "forgotten", "owner_email") == people["admin"][2]
    _idle_post(client, "/analytics/undo")
    assert field_of(in_db, "forgotten", "owner_email") == people["manager"][2]
    # A change someone edits after it is not undone over their edit.
    _idle_post(client, "/analytics/idle/forgotten/archive")
    in_db(lambda s: item_service.change_status(s, item_service.get_item(s, "forgotten"), "draft",
                                               None))
    _idle_post(client, "/analytics/undo")
    assert field_of(in_db, "forgotten", "status") == "draft"


def test_one_click_changes_need_the_csrf_token(make_item, people):
    make_item("forgotten")
    assert manager(people).post("/analytics/idle/forgotten/archive").status_code == 400


# ---- findability --------------------------------------------------------------------------


def test_backlog_counts_searches_nobody_opened(in_db, add_usage, people, taxonomy):
    in_db(lambda s: s.add_all([SearchLog(query="pricing", results=3, role="rep",
                                         at=datetime(2026, 10, 2)) for _ in range(3)]))
    add_usage("search_open", None, datetime(2026, 10, 2), people["rep"][1], query="Pricing",
              position=1)
    from content_library.services.content_use import search_backlog
    from content_library.services.effectiveness import Period
    [gap] = in_db(lambda s: search_backlog(s, Period(date(2026, 10, 1), date(2026, 10, 31))))
    assert (gap.count, gap.zero_results, gap.opened, gap.not_opened) == (3, 0, 1, 2)


def test_backlog_adds_a_synonym_or_opens_a_request(in_db, people, taxonomy):
    in_db(lambda s: s.add(SearchLog(query="tco", results=0, role="rep", at=datetime.now())))
    client = manager(people)
    token = csrf_from(client.get("/analytics/searches").get_data(as_text=True))
    client.post("/analytics/searches/synonym",
                data={"csrf_token": token, "query": "tco", "terms": "total cost of ownership"})
    from content_library.services import search_words
    assert ["tco", "total cost of ownership"] in in_db(
        lambda s: [g.terms for g in search_words.synonym_groups(s)])
    client.post("/analytics/searches/request", data={"csrf_token": token, "query": "tco"})
    from content_library.services import content_requests
    assert in_db(lambda s: [r.query for r in content_requests.requests_for_marketing(s)]) == [
        "tco"]


# ---- the item page and health ---------------------------------------------------------------


def test_item_page_shows_use_and_deals_to_its_owner_and_managers(in_db, make_item, add_usage,
                                                                 people, make_user):
    make_item("roi-calculator", owner=people["rep"][2])
    deal = Deal(source="salesforce", crm_id="d1", name="Acme renewal", account="Acme",
                crm_stage="Negotiating")
    in_db(lambda s: s.add(deal))
    deal_id = in_db(lambda s: s.scalar(select(Deal.id)))
    this_month = datetime.combine(date.today().replace(day=1), datetime.min.time())
    for _ in range(4):
        add_usage("view", "roi-calculator", this_month, people["rep"][1])
    add_usage("used_in_deal", "roi-calculator", this_month, people["rep"][1], deal_id=deal_id)
    for seen, role in enumerate(("rep", "manager")):
        html = people[role][0].get("/content/roi-calculator").get_data(as_text=True)
        assert "Use over the last 12 months" in html and "Acme renewal" in html, role
        # The four views above, plus the page views that opening the page records itself.
        views = re.search(rf'<th scope="row">{this_month:%B %Y}</th><td>(\d+)</td>', html)
        assert "<svg" in html and views and 4 <= int(views.group(1)) <= 4 + seen + 1
    _, other_rep = make_user("rep")
    other = people["rep"][0].application.test_client()
    log_in(other, other_rep)
    assert "Use over the last 12 months" not in other.get("/content/roi-calculator").get_data(
        as_text=True)


def test_a_long_list_of_deals_is_summed_up_and_folded(in_db, make_item, add_usage, people):
    make_item("roi-calculator")
    deals = [Deal(source="salesforce", crm_id=f"d{n}", name=f"Deal number {n}", account="Acme",
                  crm_stage="Closed Won" if n < 5 else "Negotiating",
                  outcome="won" if n < 5 else None, is_closed=n < 5) for n in range(20)]
    in_db(lambda s: s.add_all(deals))
    ids = in_db(lambda s: list(s.scalars(select(Deal.id))))
    when = datetime.now() - timedelta(days=1)
    for deal_id in ids:
        add_usage("used_in_deal", "roi-calculator", when, people["rep"][1], deal_id=deal_id)
    html = manager(people).get("/content/roi-calculator").get_data(as_text=True)
    assert "Linked to 20 deals: 5 won, 0 lost, 15 still open." in html
    section = html[html.index("Deals it was used in"):]
    folded = section[section.index("Show the other 5 deals"):]
    assert folded.count("Deal number") == 5 and section.count("Deal number") == 20


def test_library_sorts_by_health_weakest_first(make_item, add_usage, people):
    make_item("busy", review_by=date.today() + timedelta(days=100))
    make_item("overdue", review_by=date.today() - timedelta(days=200))
    for _ in range(10):
        add_usage("view", "busy", datetime.now() - timedelta(days=1), people["rep"][1])
    html = manager(people).get("/library", query_string={"sort": "health"}).get_data(as_text=True)
    assert html.index("Overdue") < html.index("Busy")
    from content_library.services.content_use import Health
    # overdue: fresh 0, unused 0, outcome unknown 0.5 -> 10; busy: 1, 10/(10+10), 0.5 -> 70
    assert Health(0.0, 0.0, 0.5).score == 10 and Health(1.0, 0.5, 0.5).score == 70
    assert "<td>10</td>" in html and "<td>70</td>" in html


def test_the_usage_service_itself_ignores_unknown_sort_names(october, in_db):
    from content_library.services.content_use import item_usage
    from content_library.services.effectiveness import Period

    month = Period(date(2026, 10, 1), date(2026, 10, 31))
    default = in_db(lambda s: [r.slug for r in item_usage(s, month, date.today())])
    for hostile in ("slug; DROP TABLE usage_events", "id", "title asc"):
        assert in_db(lambda s, h=hostile: [r.slug for r in item_usage(s, month, date.today(),
                                                                      sort=h)]) == default


def test_usage_page_shows_a_page_of_rows_at_a_time(october, make_item, people, monkeypatch):
    from portal.analytics import routes

    make_item("battle-card")
    monkeypatch.setattr(routes, "USAGE_PER_PAGE", 2)
    client = manager(people)
    first = client.get("/analytics/usage", query_string=OCTOBER).get_data(as_text=True)
    assert "Roi Calculator" in first and "Old Deck" not in first and 'aria-label="Pages"' in first
    last = client.get("/analytics/usage", query_string={**OCTOBER, "page": "2"}).get_data(
        as_text=True)
    assert "Old Deck" in last and "Roi Calculator" not in last
