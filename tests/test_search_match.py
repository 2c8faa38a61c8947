"""Partial matches and corrections, on every backend: the contract suite's harness.

When fewer than a page of items has every word typed, the items having only some of
them follow, most words first, each naming the words it lacks; totals and facets count
what is returned, and visibility and filters apply to both kinds alike.
"""

from __future__ import annotations

import pytest

from tests.search_library import CHAMPION, REP, item, reference_facets, search, slugs
from tests.test_search_contract import harness  # noqa: F401  (the fixture, used by name)

LIBRARY = [
    item("acme-card", "Battle card: Acme", summary="Where we win against Acme in late deals.",
         type="battlecard", stages=("compare",), verticals=("retail",)),
    item("globex-card", "Battle cards for Globex", summary="Traps to set and objections to expect.",
         type="battlecard", stages=("compare",), verticals=("finance",)),
    item("landscape", "Competitors, competitors, competitors",
         summary="Competitors and more competitors: who the competitors are.",
         type="guide", stages=("discover",), verticals=("retail",)),
    item("win-story", "How a bank switched", summary="The competitors lost this battle on service.",
         type="case-study", stages=("compare",), verticals=("finance",)),
    item("roi-guide", "Payback guide", summary="The return on investment of the platform.",
         type="guide", stages=("business-case",)),
    item("unrelated", "Onboarding checklist", summary="Week one with a new customer.",
         stages=("implementation",)),
    # every word, but internal: staff only
    item("internal-cards", "Battle cards against competitors", summary="Discount tiers.",
         type="battlecard", stages=("compare",), audience="internal"),
    # every word, but not published: nobody
    item("draft-cards", "Battle cards about competitors", type="battlecard", status="draft"),
    item("archived-cards", "Old battle cards", summary="Competitors of 2019.", status="archived"),
]
ROI = (("ROI", "return on investment"),)
QUERY = "battle cards competitors"


@pytest.fixture(scope="module")
def library(harness):  # noqa: F811
    backend = harness.new()
    backend.index_items(LIBRARY)
    return backend


def missing(result) -> dict[str, tuple[str, ...]]:
    return {hit.slug: hit.missing for hit in result.hits}


def visible(viewer) -> dict[str, object]:
    return {
        i.slug: i
        for i in LIBRARY
        if i.status == "published" and (viewer.sees_internal or i.audience == "external")
    }


def test_items_with_some_of_the_words_follow_those_with_all(library):
    result = search(library, QUERY)
    assert result.match == "some" and result.all_words == 1
    assert result.total == len(result.hits) == 5
    assert slugs(result)[0] == "internal-cards"
    assert missing(result) == {
        "internal-cards": (),
        "acme-card": ("competitors",),
        "globex-card": ("competitors",),
        "win-story": ("cards",),
        "landscape": ("battle", "cards"),
    }


def test_most_words_first_then_score(library):
    result = search(library, QUERY, CHAMPION)
    assert result.all_words == 0 and result.match == "some"
    assert slugs(result)[-1] == "landscape"  # one word of three, however often
    score = {hit.slug: hit.score for hit in result.hits}
    assert score["landscape"] > min(score[s] for s in ("acme-card", "globex-card", "win-story"))
    two_words = result.hits[:3]
    assert [h.score for h in two_words] == sorted((h.score for h in two_words), reverse=True)


def test_missing_names_the_words_as_typed_and_never_stop_words(library):
    result = search(library, "the Battle Cards for COMPETITORS", CHAMPION)
    assert missing(result)["acme-card"] == ("COMPETITORS",)
    assert missing(result)["landscape"] == ("Battle", "Cards")


def test_a_phrase_or_a_synonym_is_missing_as_typed(library):
    phrase = missing(search(library, '"Battle card" competitors', CHAMPION))
    assert phrase["acme-card"] == ("competitors",)
    assert phrase["landscape"] == phrase["win-story"] == ("Battle card",)
    widened = search(library, "ROI competitors", CHAMPION, synonyms=ROI)
    assert missing(widened)["roi-guide"] == ("competitors",)  # "return on investment" is ROI
    assert missing(widened)["landscape"] == ("ROI",)
    run = missing(search(library, "return on investment competitors", CHAMPION, synonyms=ROI))
    assert run["landscape"] == ("return on investment",)


def test_one_word_has_no_partial_tier(library):
    for text in ("competitors", "the competitors", '"battle cards"'):
        result = search(library, text, CHAMPION)
        assert result.match == "all" and result.total == result.all_words > 0
        assert all(hit.missing == () for hit in result.hits)


def test_a_page_of_items_with_every_word_needs_no_partial_tier(library):
    both = search(library, "battle cards", per_page=3)  # acme, globex and the internal one
    assert both.match == "all" and both.total == both.all_words == 3
    assert all(hit.missing == () for hit in both.hits)
    wider = search(library, "battle cards", per_page=4)
    assert wider.match == "some" and wider.all_words == 3 and wider.total == 4
    assert missing(wider)["win-story"] == ("cards",)


def test_pages_run_through_both_tiers_in_one_order(library):
    whole = slugs(search(library, QUERY, per_page=100))
    paged = []
    for page in (1, 2, 3):
        result = search(library, QUERY, page=page, per_page=2)
        assert result.total == 5 and result.match == "some"
        paged += slugs(result)
    assert paged == whole


@pytest.mark.parametrize("viewer", [REP, CHAMPION], ids=["staff", "champion"])
@pytest.mark.parametrize("text", [QUERY, "discount competitors", "tiers payback",
                                  "battle discount 2019", "draft old competitors"])
def test_totals_and_facets_count_only_what_is_returned(library, viewer, text):
    result = search(library, text, viewer, per_page=100)
    shown = visible(viewer)
    assert set(slugs(result)) <= shown.keys()
    assert result.total == len(result.hits)
    assert result.facets == reference_facets([shown[s] for s in slugs(result)], {})


def test_a_champions_partial_tier_never_holds_internal_or_unpublished_items(library):
    result = search(library, "discount tiers competitors 2019", CHAMPION, per_page=100)
    assert set(slugs(result)) == {"landscape", "win-story"}
    assert "battlecard" not in result.facets["type"]
    assert search(library, "discount tiers", CHAMPION).total == 0


def test_filters_apply_to_both_tiers(library):
    filters = {"type": ("battlecard",), "vertical": ("retail", "finance")}
    result = search(library, QUERY, CHAMPION, filters=filters, per_page=100)
    assert slugs(result) == ["acme-card", "globex-card"] or slugs(result) == ["globex-card", "acme-card"]
    some = [visible(CHAMPION)[s] for s in ("acme-card", "globex-card", "landscape", "win-story")]
    assert result.facets == reference_facets(some, filters)


def test_a_correction_is_offered_when_no_item_has_every_word(library):
    # each corrected word is known, though no item the champion sees has all three
    assert search(library, "battel cards competitors", CHAMPION).suggestion == "battle cards competitors"
    assert search(library, "battel cards competitors", REP).suggestion == "battle cards competitors"
    assert search(library, "battel cards zzyzx", CHAMPION).suggestion is None  # zzyzx stays unknown
    assert search(library, "discount tiers", CHAMPION).suggestion is None
