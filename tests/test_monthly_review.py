"""The monthly enablement review: November 2026 against October, figures worked out by hand."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from html.parser import HTMLParser

import pytest

from content_library.errors import Invalid
from content_library.models import (
    ActionItem,
    ContentItem,
    ContentRequest,
    Deal,
    SearchLog,
    UsageEvent,
)
from content_library.services import monthly_review as review_service
from content_library.services.effectiveness import Period, effectiveness
from content_library.services.monthly_review import Month, parse_month
from portal.extensions import db
from tests.conftest import csrf_from

NOVEMBER = Month(2026, 11)


def at(day: str, clock: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}")


def event(session, kind: str, item: str | None, stage: str | None, when: datetime,
          **details) -> None:
    item_id = session.query(ContentItem.id).filter_by(slug=item).scalar() if item else None
    session.add(UsageEvent(kind=kind, item_id=item_id, item_slug=item, role="rep", stage=stage,
                           occurred_at=when, details=details))


def deal(session, crm_id: str, outcome: str, closed: date, amount: float = 100) -> None:
    session.add(Deal(source="salesforce", crm_id=crm_id, name=crm_id, amount=amount,
                     crm_stage="Closed", is_closed=True, outcome=outcome, close_date=closed))


@pytest.fixture
def months(months_data, ctx):
    return ctx


@pytest.fixture
def months_data(app, make_item):
    """Built in an app context of its own: one left open across test-client requests would
    share `g` (and a stale CSRF token) between them.

    Five published items and a draft, a few weeks of use around October and November
    2026, searches, requests, deals and action items. The expected figures in the tests
    below were counted by hand from this list."""
    add_items(make_item)
    with app.app_context():
        build_months(db.session)


def add_items(make_item) -> None:
    make_item("roi-calculator", title="ROI calculator", stages=["building-business-case"],
              stakeholders=["cfo"], owner="anna@example.com")
    make_item("battle-card", title="=HYPERLINK(\"x\")", stages=["building-business-case",
                                                                "negotiating"],
              stakeholders=["it"])
    make_item("intro-deck", title="Intro deck", stages=["understanding-offerings"])
    make_item("old-sheet", title="Old sheet", stages=["understanding-offerings"],
              review_by=date(2026, 11, 15))
    make_item("dusty", title="Dusty", stages=["understanding-offerings"],
              review_by=date(2026, 10, 1))
    make_item("draft-thing", status="draft", stages=["negotiating"], stakeholders=["cfo"])



def build_months(ctx) -> None:
    """The use, searches, requests, deals and action items around the items of add_items."""
    bbc, neg, uo = "building-business-case", "negotiating", "understanding-offerings"
    # November: 5 uses at the business case, 2 at negotiating, 1 outside any stage.
    for day in ("2026-11-02", "2026-11-10"):
        event(ctx, "view", "roi-calculator", bbc, at(day))
    event(ctx, "view", "roi-calculator", bbc, at("2026-11-30", "23:59:59"))
    event(ctx, "download", "roi-calculator", bbc, at("2026-11-05"))
    event(ctx, "view", "battle-card", neg, at("2026-11-03"))
    event(ctx, "view", "battle-card", neg, at("2026-11-04"))
    event(ctx, "copy", "battle-card", bbc, at("2026-11-06"), part="value_statement")
    event(ctx, "view", "intro-deck", None, at("2026-11-07"))
    event(ctx, "feedback", "roi-calculator", bbc, at("2026-11-08"), useful=True)  # not a use
    event(ctx, "view", "draft-thing", neg, at("2026-11-08"))  # a draft: not in the lists
    event(ctx, "view", "roi-calculator", bbc, at("2026-12-01", "00:00"))  # December
    # October: 3 at understanding offerings, 1 at the business case.
    event(ctx, "view", "intro-deck", uo, at("2026-10-01", "00:00"))
    event(ctx, "view", "intro-deck", uo, at("2026-10-31", "23:59"))
    event(ctx, "view", "roi-calculator", bbc, at("2026-10-20"))
    event(ctx, "view", "old-sheet", uo, at("2026-10-21"))
    event(ctx, "view", "dusty", uo, at("2026-09-10"))

    # Searches: no results, and results nobody opened.
    for words, results, when in (("Pricing EU", 0, "2026-11-03"), (" pricing eu ", 0, "2026-11-09"),
                                 ("pricing eu", 0, "2026-10-09"), ("gdpr", 0, "2026-11-11"),
                                 ("roi", 5, "2026-11-12"), ("ROI", 5, "2026-11-13"),
                                 ("security questionnaire", 3, "2026-11-14"),
                                 ("security questionnaire", 3, "2026-10-14")):
        ctx.add(SearchLog(query=words, results=results, role="rep", at=at(when)))
    event(ctx, "search_open", "roi-calculator", None, at("2026-11-13"), query="ROI", position=1)
    event(ctx, "search_open", "battle-card", None, at("2026-10-14"),
          query="security questionnaire", position=2)
    event(ctx, "search_open", "battle-card", None, at("2026-11-20"), position=1)  # no words

    # Closed means declined or completed; an accepted request is still open.
    for created, status, decided in (("2026-11-03", "completed", "2026-11-20"),
                                     ("2026-10-10", "declined", "2026-11-02"),
                                     ("2026-10-15", "accepted", "2026-10-20"),
                                     ("2026-11-25", "open", None),
                                     ("2026-09-01", "completed", "2026-10-05")):
        ctx.add(ContentRequest(query="x", created_at=at(created), status=status,
                               decided_at=at(decided) if decided else None))

    deal(ctx, "won-1", "won", date(2026, 11, 3), 300)
    deal(ctx, "won-2", "won", date(2026, 11, 30), 100)
    deal(ctx, "lost-1", "lost-competition", date(2026, 11, 15), 200)
    deal(ctx, "lost-oct", "lost-no-decision", date(2026, 10, 31), 50)

    ctx.add_all([
        ActionItem(month="2026-10", text="Write a CFO one-pager", owner="Anna",
                   due=date(2026, 11, 15), status="done"),
        ActionItem(month="2026-10", text="Add 'pricing EU' as a synonym", owner="Ben"),
        ActionItem(month="2026-09", text="Retire old battle cards", owner="Cleo"),
        ActionItem(month="2026-09", text="Finished long ago", owner="Dan", status="done"),
        ActionItem(month="2026-11", text="Agreed at this meeting", owner="Eve"),
        ActionItem(month="2026-12", text="Next month's", owner="Fay"),
    ])
    ctx.commit()


# ---- months ------------------------------------------------------------------------------


def test_months_and_their_neighbours():
    assert parse_month("2026-01").before == Month(2025, 12)
    assert parse_month(" 2026-12 ").after == Month(2027, 1)
    assert Month(2026, 2).last_day == date(2026, 2, 28)
    assert Month(2024, 2).last_day == date(2024, 2, 29)
    assert NOVEMBER.label == "November 2026" and NOVEMBER.key == "2026-11"
    assert review_service.last_full_month(date(2027, 1, 4)) == Month(2026, 12)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-11", "november", "",
                                  "2026-11-01", "0000-05"])
def test_a_bad_month_is_refused_with_the_reason(text):
    with pytest.raises(Invalid) as caught:
        parse_month(text)
    assert "expected a month like 2026-11" in caught.value.reasons["month"]


# ---- the figures ---------------------------------------------------------------------------


def test_usage_by_stage_against_the_month_before(months):
    usage = {s.slug: (s.uses.this, s.uses.before)
             for s in review_service.usage_by_stage(months, NOVEMBER)}
    assert usage == {"understanding-offerings": (0, 3), "building-business-case": (5, 1),
                     "negotiating": (3, 0), "": (1, 0)}
    # (negotiating counts the draft's view: use by stage is about what reps did.)
    stages = [s.slug for s in review_service.usage_by_stage(months, NOVEMBER)]
    assert stages == ["understanding-offerings", "building-business-case", "negotiating", ""]


def test_top_and_bottom_items_per_stage(months):
    ends = {s.slug: ([(i.slug, i.uses.this, i.uses.before) for i in s.top],
                     [(i.slug, i.uses.this, i.uses.before) for i in s.bottom])
            for s in review_service.top_and_bottom(months, NOVEMBER)}
    assert ends["building-business-case"] == ([("roi-calculator", 4, 1), ("battle-card", 1, 0)],
                                              [])
    assert ends["negotiating"] == ([("battle-card", 2, 0)], [])
    # Nobody used anything at this stage in November: the least used first at the bottom.
    assert ends["understanding-offerings"] == ([], [("dusty", 0, 0), ("old-sheet", 0, 1),
                                                    ("intro-deck", 0, 2)])


def test_unused_and_stale_items(months):
    unused = review_service.unused_items(months, NOVEMBER)
    assert (unused.count.this, unused.count.before) == (2, 2)  # October: battle-card, dusty
    assert [(i.slug, i.last_used) for i in unused.items] == [
        ("dusty", at("2026-09-10")), ("old-sheet", at("2026-10-21"))]
    stale = review_service.stale_items(months, NOVEMBER)
    assert (stale.count.this, stale.count.before) == (2, 1)
    assert [i.slug for i in stale.items] == ["dusty", "old-sheet"]


def test_findability_backlog(months):
    found = review_service.findability(months, NOVEMBER)
    assert [(g.query, g.searches.this, g.searches.before) for g in found.no_results] == [
        ("pricing eu", 2, 1), ("gdpr", 1, 0)]
    assert (found.no_results_total.this, found.no_results_total.before) == (3, 1)
    # "roi" was opened in November; "security questionnaire" only in October.
    assert [(g.query, g.searches.this, g.searches.before) for g in found.none_opened] == [
        ("security questionnaire", 1, 0)]
    assert (found.none_opened_total.this, found.none_opened_total.before) == (1, 0)


def test_coverage_gaps(months):
    gaps = [(g.stage, g.stakeholder, g.for_everyone)
            for g in review_service.coverage_gaps(months)]
    assert gaps == [("Understanding offerings", "CFO", 3), ("Understanding offerings", "IT", 3),
                    ("Negotiating", "CFO", 0)]  # the draft for the CFO does not count


def test_content_requests_opened_and_closed(months):
    requests = review_service.content_requests(months, NOVEMBER)
    assert (requests.opened.this, requests.opened.before) == (2, 2)
    assert (requests.closed.this, requests.closed.before) == (2, 1)
    assert requests.open_at_end == 2  # the accepted one and November's open one


def test_effectiveness_is_section_7s_for_each_month(months):
    review = review_service.monthly_review(months, NOVEMBER, at("2026-12-02"))
    baseline = review.effectiveness.baseline
    assert (baseline.won, baseline.lost_competition, baseline.deals) == (2, 1, 3)
    assert baseline.too_few
    assert review.effectiveness == effectiveness(months, Period(date(2026, 11, 1),
                                                                 date(2026, 11, 30)))
    assert review.effectiveness_before.baseline.lost_no_decision == 1


def test_action_items_from_the_last_meeting_and_those_still_open(months):
    actions = review_service.actions(months, NOVEMBER)
    assert [(a.text, a.status) for a in actions.from_last_meeting] == [
        ("Write a CFO one-pager", "done"), ("Add 'pricing EU' as a synonym", "open")]
    assert [a.text for a in actions.carried] == ["Retire old battle cards"]
    assert [a.text for a in actions.agreed_now] == ["Agreed at this meeting"]


def test_an_empty_portal_gives_an_empty_review(ctx, taxonomy):
    review = review_service.monthly_review(ctx, NOVEMBER, at("2026-12-01"))
    assert review.total_uses.this == 0 and review.unused.items == []
    assert review.effectiveness.baseline.close_rate is None


# ---- the CLI -------------------------------------------------------------------------------


class Document(HTMLParser):
    """What the tests need to know of an HTML file: tags, references and tables."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def external_references(html: str) -> list[str]:
    page = Document()
    page.feed(html)
    found = []
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name.startswith("xmlns"):
                continue  # a namespace name, never fetched
            if name in ("src", "href", "xlink:href", "action", "srcset", "data", "poster"):
                found.append(f"{tag} {name}={value}")
        if tag in ("link", "script", "iframe", "object", "embed", "img", "base"):
            found.append(tag)
    lowered = html.lower()
    found += [word for word in ("url(", "@import", "http://", "https://", "//fonts")
              if word in lowered.replace('xmlns="http://', "").replace('xmlns:xlink="http://', "")]
    return found


def test_report_monthly_html_is_one_self_contained_file(months_data, runner, tmp_path):
    out = tmp_path / "review.html"
    result = runner.invoke(args=["report", "monthly", "--month", "2026-11", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert external_references(html) == []
    page = Document()
    page.feed(html)
    tags = [tag for tag, _ in page.tags]
    assert tags.count("svg") == 2 and "style" in tags
    assert "@media print" in html
    # Every chart stands in a figure followed by the table of its figures.
    assert html.count("<figure>") == 2
    for chunk in html.split("</figure>")[1:]:
        assert chunk.lstrip().startswith(
            '<div class="table-wrap"><table class="figures">\n  <caption>The figures of')
    for svg_attrs in (attrs for tag, attrs in page.tags if tag == "svg"):
        assert svg_attrs["role"] == "img" and svg_attrs["aria-label"]
    text = " ".join(page.text)
    for words in ("November 2026", "October 2026", "Usage by stage", "too few deals",
                  "pricing eu", "Write a CFO one-pager", "Retire old battle cards",
                  "Coverage gaps", "security questionnaire"):
        assert words in text
    # A title someone typed is text in the file, never markup.
    assert "=HYPERLINK" in text


def test_report_monthly_csv_tables_with_formulas_neutralised(months_data, runner, tmp_path):
    out = tmp_path / "review.csv"
    result = runner.invoke(args=["report", "monthly", "--month", "2026-11", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    titles = [rows[i + 1][0] for i, row in enumerate(rows[:-1]) if row == []]
    assert titles[0] == "Usage by stage" and "Action items" in titles
    assert len(titles) == 11
    start = rows.index(["Usage by stage"])
    assert rows[start + 1] == ["stage", "uses 2026-11", "uses 2026-10", "change"]
    assert rows[start + 2] == ["Understanding offerings", "0", "3", "-3"]  # a number, not text
    cells = [cell for row in rows for cell in row]
    assert "'=HYPERLINK(\"x\")" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert not any(cell.startswith("-") and not _is_number(cell) for cell in cells)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_lift_is_written_in_percentage_points_as_a_number():
    # A lift is a difference of two rates: "+39%" would read as a relative change.
    from portal.review.document import _points

    assert _points(0.39) == 39.0 and _points(-0.125) == -12.5 and _points(None) == ""


@pytest.mark.parametrize("month", ["2026-13", "nov", "2026-1"])
def test_report_monthly_bad_month_fails_in_one_line_and_writes_nothing(months_data, runner,
                                                                       tmp_path, month):
    out = tmp_path / "review.html"
    result = runner.invoke(args=["report", "monthly", "--month", month, "--out", str(out)])
    assert result.exit_code != 0
    assert result.output.strip().count("\n") == 0 and "2026-11" in result.output
    assert not out.exists()


@pytest.mark.parametrize("name", ["missing/review.html", "review.pdf", "a-folder"])
def test_report_monthly_bad_path_fails_in_one_line(months_data, runner, tmp_path, name):
    (tmp_path / "a-folder").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(args=["report", "monthly", "--month", "2026-11",
                                 "--out", str(tmp_path / name)])
    assert result.exit_code != 0
    assert result.output.strip().count("\n") == 0 and "--out" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_report_monthly_into_a_read_only_folder_leaves_nothing(months_data, runner, tmp_path):
    import os

    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who may write anywhere (root)")
        result = runner.invoke(args=["report", "monthly", "--month", "2026-11",
                                     "--out", str(folder / "review.csv")])
        assert result.exit_code != 0 and "cannot write" in result.output
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_report_monthly_over_a_file_it_cannot_replace(months_data, runner, tmp_path):
    # A folder named like the target: the move fails, and nothing is left behind.
    target = tmp_path / "review.csv"
    target.mkdir()
    (target / "keep").write_text("mine")
    result = runner.invoke(args=["report", "monthly", "--month", "2026-11", "--out", str(target)])
    assert result.exit_code != 0 and result.output.strip().count("\n") == 0
    assert (target / "keep").read_text() == "mine"
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


# ---- the page ------------------------------------------------------------------------------


def test_managers_and_admins_only(months_data, app, make_user):
    from tests.conftest import log_in

    for role, status in (("rep", 403), ("champion", 403), ("manager", 200), ("admin", 200)):
        client = app.test_client()
        _, email = make_user(role)
        assert log_in(client, email).status_code == 302
        for path in ("/review/", "/review/2026-11", "/review/2026-11.html",
                     "/review/2026-11.csv"):
            expected = 302 if path == "/review/" and status == 200 else status
            assert client.get(path).status_code == expected, (role, path)
        token = csrf_from(client.get("/account").get_data(as_text=True))
        for path, data in (("/review/2026-11/actions", {"text": "x", "owner": "y"}),
                           ("/review/2026-11/actions/1", {"status": "done"})):
            response = client.post(path, data={"csrf_token": token, **data})
            assert (response.status_code == 403) == (status == 403), (role, path)
    with app.app_context():
        assert db.session.query(ActionItem).filter_by(text="x").count() == 2  # manager, admin


def test_signed_out_visitors_are_sent_to_log_in(client, taxonomy):
    response = client.get("/review/2026-11")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_page_shows_the_review_and_links_its_downloads(months_data, make_user, login, client):
    _, email = make_user("manager")
    login(email)
    assert client.get("/review/").headers["Location"].endswith(
        "/review/" + review_service.last_full_month(date.today()).key)
    html = client.get("/review/2026-11").get_data(as_text=True)
    assert "Monthly enablement review: November 2026" in html
    assert 'href="/review/2026-11.html"' in html and 'href="/review/2026-11.csv"' in html
    assert html.count("<svg") == 2 and "<script type" not in html.split("<main")[1]
    download = client.get("/review/2026-11.csv")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert client.get("/review/2026-13").status_code == 400
    assert "expected a month like 2026-11" in client.get("/review/nov").get_data(as_text=True)


def test_action_items_recorded_on_the_page_are_listed_next_month(app, taxonomy, make_user,
                                                                  login, client):
    _, email = make_user("manager")
    login(email)
    token = csrf_from(client.get("/review/2026-10").get_data(as_text=True))
    response = client.post("/review/2026-10/actions", data={
        "csrf_token": token, "text": "Write the EU pricing sheet", "owner": "Anna",
        "due": "2026-11-20"})
    assert response.status_code == 302
    november = client.get("/review/2026-11").get_data(as_text=True)
    last_meeting = november.split("Agreed at the last meeting")[1].split("Agreed at this")[0]
    assert "Write the EU pricing sheet" in last_meeting and "2026-11-20" in last_meeting
    assert "status-open" in last_meeting

    with app.app_context():
        action_id = db.session.query(ActionItem.id).scalar()
    response = client.post(f"/review/2026-11/actions/{action_id}", data={
        "csrf_token": csrf_from(november), "status": "done"})
    assert response.status_code == 302
    november = client.get("/review/2026-11").get_data(as_text=True)
    assert "status-done" in november.split("Agreed at the last meeting")[1].split("Agreed at this")[0]
    # Done, so December's review no longer carries it; still listed in its own month's page.
    assert "Write the EU pricing sheet" not in client.get("/review/2026-12").get_data(as_text=True)


def test_a_refused_action_keeps_what_was_typed(app, taxonomy, make_user, login, client):
    _, email = make_user("manager")
    login(email)
    token = csrf_from(client.get("/review/2026-11").get_data(as_text=True))
    response = client.post("/review/2026-11/actions", data={
        "csrf_token": token, "text": "Call the CFO panel", "owner": "", "due": "next week"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Call the CFO panel" in html and "next week" in html
    assert "name who will do it" in html and "expected a date like 2026-12-15" in html
    with app.app_context():
        assert db.session.query(ActionItem).count() == 0
    bad_status = client.post("/review/2026-11/actions/1", data={"csrf_token": token,
                                                                 "status": "maybe"})
    assert bad_status.status_code in (400, 404)
    assert client.post("/review/2026-11/actions/999999", data={
        "csrf_token": token, "status": "done"}).status_code == 404


def test_markup_in_typed_words_stays_text(app, taxonomy, make_user, login, client, make_item):
    make_item("evil", title="<script>alert(1)</script>", stages=["negotiating"])
    with app.app_context():
        session = db.session
        session.add(SearchLog(query="<img src=x onerror=alert(2)>", results=0, role="rep",
                              at=at("2026-11-03")))
        event(session, "view", "evil", "<b>odd</b>", at("2026-11-03"))
        session.commit()
    _, email = make_user("manager")
    login(email)
    html = client.get("/review/2026-11").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>odd" not in html
    assert "&lt;script&gt;alert(1)" in html and "&lt;b&gt;odd&lt;/b&gt;" in html
