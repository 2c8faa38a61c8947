"""Search as people use it: the page, the API, synonyms, no results, coverage, index drift."""

from __future__ import annotations

import pytest

from tests.champion_support import share
from tests.conftest import page_token


@pytest.fixture
def library(app, make_item, make_user):
    make_item("forecast-accuracy", title="Forecast accuracy for the CFO",
              summary="Return on investment of better forecasts.", stakeholders=["cfo"],
              stages=["building-business-case"], solutions=["forecasting"], type="sales-argument")
    make_item("integration-guide", title="Integration guide", summary="Integrating with your CRM.",
              stakeholders=["it"], stages=["understanding-offerings"], verticals=["healthcare"])
    make_item("retail-story", title="Retail forecasting story", summary="A retailer's forecast.",
              stakeholders=["cfo"], stages=["understanding-offerings"], verticals=["retail"],
              solutions=["forecasting"])
    make_item("internal-pricing", title="Pricing guardrails", summary="Discount zebra rules.",
              audience="internal", stakeholders=["cfo"], stages=["negotiating"],
              type="battle-card")
    make_item("draft-plan", title="Draft forecast plan", summary="Unfinished.", status="draft")
    # Everything on one link to the champions' company: it opens only the external ones.
    share(app, ["forecast-accuracy", "integration-guide", "retail-story", "internal-pricing",
                "draft-plan"], by=make_user("rep", email="sharer@example.com")[1],
          company="Buyer Inc")


def api(client, path, **params):
    return client.get(path, query_string=params)


def test_api_search_answers_the_documented_shape(client, make_user, login, library):
    _, email = make_user("rep")
    login(email)
    body = api(client, "/api/v1/search", q="forecast").json
    assert set(body) == {"total", "page", "per_page", "match", "results", "facets", "suggestion"}
    assert body["page"] == 1 and body["per_page"] == 20
    slugs = [r["slug"] for r in body["results"]]
    assert set(slugs) == {"forecast-accuracy", "retail-story"}  # never the draft
    first = body["results"][0]
    assert {"slug", "title", "summary", "type", "audience", "stages", "stakeholders", "solutions",
            "verticals", "highlight", "score", "missing"} <= set(first)
    assert "<mark>" in first["highlight"]
    assert set(body["facets"]) == {"stage", "stakeholder", "solution", "vertical", "type"}


@pytest.mark.parametrize("params", [{"page": "0"}, {"page": "x"}, {"per_page": "0"},
                                    {"per_page": "101"}, {"page": "-1"}])
def test_api_search_rejects_bad_paging_with_a_clear_error(client, make_user, login, library,
                                                          params):
    _, email = make_user("rep")
    login(email)
    response = api(client, "/api/v1/search", q="forecast", **params)
    assert response.status_code == 400 and "page" in response.json["error"]


def test_filters_are_or_within_a_facet_and_and_across(client, make_user, login, library):
    _, email = make_user("rep")
    login(email)
    both = client.get("/api/v1/search?vertical=healthcare&vertical=retail").json
    assert {r["slug"] for r in both["results"]} == {"integration-guide", "retail-story"}
    narrowed = client.get("/api/v1/search?vertical=healthcare&vertical=retail&stakeholder=cfo").json
    assert [r["slug"] for r in narrowed["results"]] == ["retail-story"]
    # The vertical counts ignore the vertical selection, so a rep can widen it.
    assert narrowed["facets"]["vertical"] == {"retail": 1}
    assert both["facets"]["vertical"] == {"healthcare": 1, "retail": 1}


def test_champion_search_never_mentions_internal_content(client, make_user, login, library):
    _, email = make_user("champion")
    login(email)
    body = api(client, "/api/v1/search", q="pricing zebra").json
    assert body["total"] == 0 and body["results"] == []
    browse = api(client, "/api/v1/search").json
    assert "internal-pricing" not in {r["slug"] for r in browse["results"]}
    assert "battle-card" not in browse["facets"]["type"]
    assert "negotiating" not in browse["facets"]["stage"]
    assert api(client, "/api/v1/search", q="zebre").json["suggestion"] is None
    assert client.get("/search/suggest?q=zeb").json == []
    assert client.get("/search/suggest?q=pric").json == []


def test_rep_search_finds_internal_content_and_corrects_spelling(client, make_user, login, library):
    _, email = make_user("rep")
    login(email)
    assert [r["slug"] for r in api(client, "/api/v1/search", q="zebra").json["results"]] == \
        ["internal-pricing"]
    assert api(client, "/api/v1/search", q="forcast").json["suggestion"] == "forecast"
    assert any("pricing" in s["text"].lower() for s in client.get("/search/suggest?q=pric").json)


def test_a_title_suggestion_opens_its_item_and_hidden_titles_are_never_offered(
        client, make_user, login, make_item, library):
    make_item("twin-a", title="Twin pricing sheet")
    make_item("twin-b", title="Twin pricing sheet")
    _, email = make_user("rep")
    login(email)
    offered = client.get("/search/suggest?q=forecast acc").json
    assert {"text": "Forecast accuracy for the CFO", "url": "/content/forecast-accuracy"} in offered
    assert all(set(s) == {"text", "url"} for s in offered)
    assert {"text": "Pricing guardrails", "url": "/content/internal-pricing"} in \
        client.get("/search/suggest?q=pricing gu").json
    words = client.get("/search/suggest?q=pric").json
    assert {"text": "pricing", "url": None} in words
    # one title, two items: the suggestion searches instead of guessing
    assert {"text": "Twin pricing sheet", "url": None} in client.get("/search/suggest?q=twin").json
    assert client.get("/search/suggest?q=draft forecast").json == []

    client.post("/logout", data={"csrf_token": page_token(client, "/account")})
    _, champion = make_user("champion")
    login(champion)
    offered = client.get("/search/suggest?q=forecast acc").json
    assert {"text": "Forecast accuracy for the CFO", "url": "/content/forecast-accuracy"} in offered
    assert client.get("/search/suggest?q=pricing gu").json == []


def test_stemming_finds_integration_from_integrating(client, make_user, login, library):
    _, email = make_user("rep")
    login(email)
    assert "integration-guide" in {r["slug"] for r in
                                   api(client, "/api/v1/search", q="integrations").json["results"]}


def test_synonyms_edited_by_a_manager_widen_searches(client, make_user, login, library):
    _, manager = make_user("manager")
    login(manager)
    before = api(client, "/api/v1/search", q="ROI").json["total"]
    saved = client.post("/admin/synonyms", data={
        "csrf_token": page_token(client, "/admin/synonyms"),
        "terms": "ROI = return on investment"})
    assert saved.status_code == 302
    after = api(client, "/api/v1/search", q="ROI").json
    assert before == 0 and [r["slug"] for r in after["results"]] == ["forecast-accuracy"]
    refused = client.post("/admin/synonyms", data={
        "csrf_token": page_token(client, "/admin/synonyms"), "terms": "lonely"})
    assert refused.status_code == 400 and "at least two" in refused.get_data(as_text=True)


def test_search_page_shows_results_facets_and_highlights(client, make_user, login, library):
    _, email = make_user("rep")
    login(email)
    html = client.get("/search?q=forecast").get_data(as_text=True)
    assert "Forecast accuracy for the CFO" in html and "<mark>" in html
    assert 'name="stakeholder" value="cfo"' in html
    filtered = client.get("/search?q=forecast&vertical=retail").get_data(as_text=True)
    assert "Retail forecasting story" in filtered and "Forecast accuracy for the CFO" not in filtered


def test_no_results_offers_to_drop_filters_and_to_ask_marketing(client, make_user, login, library):
    _, rep = make_user("rep")
    login(rep)
    html = client.get("/search?q=forecast&vertical=healthcare").get_data(as_text=True)
    assert "Nothing found" in html and "Search again without the filters" in html
    token = page_token(client, "/search?q=quantum")
    asked = client.post("/search/request", data={
        "csrf_token": token, "query": "quantum", "filters": "{}",
        "message": "A quantum computing case study for the CFO"})
    assert asked.status_code == 302
    _, manager = make_user("manager")
    login(manager)
    requests_page = client.get("/admin/requests").get_data(as_text=True)
    assert "A quantum computing case study for the CFO" in requests_page


def test_searches_are_logged_with_their_result_counts(app, client, make_user, login, library):
    from sqlalchemy import select

    from content_library.models import SearchLog
    from portal.extensions import db

    _, rep = make_user("rep")
    login(rep)
    client.get("/search?q=Quantum  Widgets")
    api(client, "/api/v1/search", q="forecast")
    with app.app_context():
        rows = db.session.execute(select(SearchLog.query, SearchLog.results)).all()
    assert ("quantum widgets", 0) in rows and any(q == "forecast" and n > 0 for q, n in rows)


def test_coverage_matrix_counts_published_items_and_marks_gaps(client, make_user, login, library):
    _, manager = make_user("manager")
    login(manager)
    html = client.get("/coverage").get_data(as_text=True)
    assert "Coverage: stage × stakeholder" in html and 'class="gap"' in html
    healthcare = client.get("/coverage?vertical=healthcare").get_data(as_text=True)
    assert healthcare.count('class="gap"') > html.count('class="gap"')
    _, rep = make_user("rep")
    login(rep)
    assert client.get("/coverage").status_code == 403


def test_stage_recommendations_rank_and_explain(client, make_user, login, make_item, taxonomy):
    make_item("generic", title="Generic CFO deck", stakeholders=["cfo"])
    make_item("health-cfo", title="Healthcare CFO deck", stakeholders=["cfo"],
              verticals=["healthcare"])
    make_item("it-only", title="IT deck", stakeholders=["it"])
    make_item("retail-cfo", title="Retail CFO deck", stakeholders=["cfo"], verticals=["retail"])
    _, rep = make_user("rep")
    login(rep)
    body = client.get("/api/v1/stages/understanding-offerings/content"
                      "?stakeholder=cfo&vertical=healthcare").json
    assert [r["slug"] for r in body["results"]] == ["health-cfo", "generic"]
    assert body["results"][0]["reasons"] == ["for the CFO", "Healthcare"]
    assert client.get("/api/v1/stages/understanding-offerings/content?vertical=mars") \
        .status_code == 400


def test_a_crash_between_commit_and_index_update_is_found_and_repaired(app, runner, monkeypatch,
                                                                      make_item, client, make_user,
                                                                      login):
    import portal.indexing

    make_item("before-crash", title="Indexed normally")
    monkeypatch.setattr(portal.indexing, "drain", lambda *a, **k: 0)  # the process dies here
    make_item("lost-update", title="Zeppelin written while the indexer was dead")
    monkeypatch.undo()

    check = runner.invoke(args=["index", "check"])
    assert check.exit_code == 0 and "missing 1" in check.output and "lost-update" in check.output
    assert "index check --repair" in check.output
    repaired = runner.invoke(args=["index", "check", "--repair"])
    assert repaired.exit_code == 0 and "repaired: missing 0, stale 0, extra 0" in repaired.output
    _, rep = make_user("rep")
    login(rep)
    assert api(client, "/api/v1/search", q="zeppelin").json["total"] == 1


def test_changes_left_pending_by_a_crash_are_applied_by_the_next_start(app, monkeypatch, make_item,
                                                                       make_user):
    import portal.indexing
    from portal import create_app

    monkeypatch.setattr(portal.indexing, "drain", lambda *a, **k: 0)
    make_item("pending-item", title="Zeppelin pending")
    monkeypatch.undo()
    restarted = create_app({**app.config})  # a new process: its first request catches up
    client = restarted.test_client()
    _, rep = make_user("rep")
    from tests.conftest import log_in

    log_in(client, rep)
    assert api(client, "/api/v1/search", q="zeppelin").json["total"] == 1


def test_rebuild_restores_an_index_that_was_deleted(app, runner, make_item, client, make_user,
                                                    login):
    import shutil

    make_item("survivor", title="Survivor item")
    app.extensions.pop("search", None)
    shutil.rmtree(app.config["INDEX_DIR"])
    assert runner.invoke(args=["index", "rebuild"]).output.strip() == "indexed 1 items"
    _, rep = make_user("rep")
    login(rep)
    assert api(client, "/api/v1/search", q="survivor").json["total"] == 1
