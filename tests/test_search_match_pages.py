"""Search that always answers, as people see it: the search page and GET /api/v1/search,
on each search backend (match, missing, corrected: INTERFACES section 6)."""

from __future__ import annotations

import pytest

from tests.champion_support import share
from tests.search_library import BACKENDS, portal_config_for

QUERY = "battle cards competitors"


@pytest.fixture(params=BACKENDS)
def app_config(request, app_config):
    return portal_config_for(request, app_config)


@pytest.fixture
def library(app, make_item):
    from portal.indexing import backend

    with app.app_context():
        backend().clear()  # the postgres backend's tables outlive each test's database tables
    make_item("acme-card", title="Battle card: Acme", summary="Where we win against Acme.",
              type="battle-card", stages=["negotiating"], verticals=["retail"])
    make_item("globex-card", title="Battle cards for Globex", summary="Traps to set.",
              type="battle-card", stages=["negotiating"], verticals=["healthcare"])
    make_item("forecast-accuracy", title="Forecasting accuracy for the CFO",
              summary="Better forecasts, better quarters.", solutions=["forecasting"],
              type="sales-argument")
    make_item("internal-cards", title="Battle cards against competitors", summary="Discount tiers.",
              type="battle-card", audience="internal", stages=["negotiating"])
    make_item("draft-cards", title="Battle cards about competitors", status="draft")
    yield
    with app.app_context():
        backend().clear()
        close = getattr(backend(), "close", None)
        if close:
            close()


@pytest.fixture
def as_rep(make_user, login):
    _, email = make_user("rep")
    return login(email)


@pytest.fixture
def as_champion(app, make_user, login):
    """A champion everything was shared with: the link opens only the external items."""
    _, email = make_user("champion")
    share(app, ["acme-card", "globex-card", "forecast-accuracy", "internal-cards", "draft-cards"],
          by=make_user("rep")[1], to=email)
    return login(email)


def api(client, **params):
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200
    return response.json


def missing(body) -> dict[str, list[str]]:
    return {r["slug"]: r["missing"] for r in body["results"]}


def test_the_api_follows_items_with_every_word_by_those_with_some(library, as_rep):
    body = api(as_rep, q=QUERY)
    assert body["match"] == "some" and body["suggestion"] is None
    assert body["results"][0]["slug"] == "internal-cards"
    assert missing(body) == {"internal-cards": [], "acme-card": ["competitors"],
                             "globex-card": ["competitors"]}
    assert body["total"] == 3 and body["facets"]["type"] == {"battle-card": 3}


def test_a_champion_gets_only_external_items_in_either_tier(library, as_champion):
    body = api(as_champion, q=QUERY)
    assert body["match"] == "some"
    assert missing(body) == {"acme-card": ["competitors"], "globex-card": ["competitors"]}
    assert body["total"] == 2 and body["facets"]["type"] == {"battle-card": 2}
    assert body["facets"]["stage"] == {"negotiating": 2}
    page = as_champion.get("/search", query_string={"q": QUERY}).get_data(as_text=True)
    assert "Battle card: Acme" in page and "against competitors" not in page


def test_the_api_says_all_when_every_result_has_every_word(library, as_rep):
    body = api(as_rep, q="Battle cards")
    assert body["match"] == "all" and body["total"] == 3
    assert all(r["missing"] == [] for r in body["results"])
    more = api(as_rep, q="Battle cards", per_page=2)  # more than a page has every word
    assert more["match"] == "all" and more["total"] == 3
    # Exactly a page has every word: "no more than a page" (INTERFACES section 6), so the
    # items with only some of them follow, on the pages after.
    narrow = api(as_rep, q=QUERY, per_page=1)
    assert narrow["match"] == "some" and narrow["total"] > 1
    assert missing(narrow) == {"internal-cards": []}


def test_the_api_answers_the_correction_when_the_typed_words_find_nothing(library, as_rep):
    body = api(as_rep, q="forcasting")
    assert body["match"] == "corrected" and body["suggestion"] == "forecasting"
    assert body == {**api(as_rep, q="forecasting"), "match": "corrected", "suggestion": "forecasting"}
    assert [r["slug"] for r in body["results"]] == ["forecast-accuracy"]
    filtered = api(as_rep, q="forcasting", type="battle-card")  # the correction finds nothing there
    assert filtered["match"] == "all" and filtered["total"] == 0 and filtered["suggestion"] is None


def test_the_page_marks_what_each_partial_match_lacks(library, as_rep):
    page = as_rep.get("/search", query_string={"q": QUERY}).get_data(as_text=True)
    assert page.count("Missing: <s>competitors</s>") == 2
    assert "1 with every word, then items with some of them" in page
    full = as_rep.get("/search", query_string={"q": "battle cards"}).get_data(as_text=True)
    assert "Missing:" not in full and "some of them" not in full


def test_the_page_shows_corrected_results_and_offers_the_words_as_typed(library, as_rep):
    page = as_rep.get("/search", query_string={"q": "forcasting"}).get_data(as_text=True)
    assert "Showing results for" in page and "Forecasting accuracy for the CFO" in page
    assert 'href="/search?q=forcasting&amp;as_typed=1"><em>forcasting</em></a>' in page
    as_typed = as_rep.get("/search?q=forcasting&as_typed=1").get_data(as_text=True)
    assert "Nothing found" in as_typed and "Showing results for" not in as_typed
    assert "Did you mean" in as_typed and "?q=forecasting" in as_typed


def test_searching_as_typed_keeps_its_filters_and_stays_uncorrected(library, as_rep):
    page = as_rep.get("/search?q=forcasting&solution=forecasting").get_data(as_text=True)
    assert "as_typed=1&amp;solution=forecasting" in page
    kept = as_rep.get("/search?q=forcasting&as_typed=1&solution=forecasting").get_data(as_text=True)
    assert '<input type="hidden" name="as_typed" value="1">' in kept


def test_a_search_only_partly_answered_is_logged_as_not_found_and_may_be_asked_for(
        app, library, as_rep):
    from sqlalchemy import select

    from content_library.models import SearchLog
    from portal.extensions import db

    page = as_rep.get("/search", query_string={"q": "battle cards pricing"}).get_data(as_text=True)
    assert "Missing: <s>pricing</s>" in page and "Ask marketing for it" in page
    found = as_rep.get("/search", query_string={"q": QUERY}).get_data(as_text=True)
    assert "Ask marketing for it" not in found  # one item has every word
    with app.app_context():
        logged = dict(db.session.execute(select(SearchLog.query, SearchLog.results)).all())
    assert logged == {"battle cards pricing": 0, QUERY: 1}
