"""The search contract for a viewer allowed only some items (a champion: `Viewer.allowed_slugs`).

On both backends: hits, totals, facet counts, highlights, scores and title completions are
exactly those of an index that holds only the allowed items the viewer's class may see;
no word is ever corrected or completed for such a viewer (the lexicon holds the rep-only
parts of arguments too); an allowed slug the class may not see stays hidden.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from content_library.records import Viewer
from search_index import FACETS, SearchQuery
from tests.search_library import (
    BACKENDS,
    HIDDEN_WORDS,
    LIBRARY,
    everything_said,
    harness_for,
    item,
    reference_facets,
    search,
    slugs,
)

ALLOWED = frozenset({"roi-calculator", "retail-story", "onboarding-plan"})
# Allowed but not for an outsider's class: internal, draft and archived items stay hidden.
NAMED_BUT_HIDDEN = frozenset({"rival-battlecard", "launch-draft", "old-story"})
BUYER = Viewer(sees_internal=False, allowed_slugs=ALLOWED | NAMED_BUT_HIDDEN)
NOBODY = Viewer(sees_internal=False, allowed_slugs=frozenset())
# A word only items the buyer may not see hold, external and published ones included.
OTHERS_ONLY = ("encryption", "security", "price", "crm", "objections", "sync")


def mine() -> list:
    return [i for i in LIBRARY if i.slug in ALLOWED]


@pytest.fixture(scope="module", params=BACKENDS)
def harness(request, tmp_path_factory):
    made = harness_for(request, tmp_path_factory)
    yield made
    made.close()


@pytest.fixture(scope="module")
def library(harness):
    backend = harness.new()
    backend.index_items(LIBRARY)
    return backend


@pytest.fixture(scope="module")
def only_mine(harness):
    """An index of the allowed items alone: the answers the buyer must get from the full one."""
    backend = harness.new()
    backend.index_items(mine())
    return backend


def said(result) -> tuple:
    return (result.total, [(h.slug, round(h.score, 6), h.highlight, h.missing) for h in result.hits],
            result.facets, result.match, result.all_words)


@pytest.mark.parametrize("text", ["", "return", "investment", "customer story", "plan week",
                                  "retail onboarding", '"return on investment"', "integration",
                                  "price", "zanzibar", "roi retail zzz"])
@pytest.mark.parametrize("filters", [{}, {"vertical": ("retail",)},
                                     {"stakeholder": ("cfo",), "type": ("tool", "case-study")}])
def test_a_buyer_gets_the_answers_of_an_index_of_their_items_alone(library, only_mine, text,
                                                                   filters):
    for per_page, page in ((20, 1), (1, 2)):
        query = SearchQuery(text=text, filters=filters, per_page=per_page, page=page)
        assert said(library.search(query, BUYER)) == said(only_mine.search(query, BUYER)), \
            (text, filters, page)


def test_browsing_counts_only_the_buyers_items(library):
    result = search(library, "", BUYER, per_page=100)
    assert set(slugs(result)) == ALLOWED and result.total == len(ALLOWED)
    assert result.facets == reference_facets(mine(), {})


def test_words_of_items_the_buyer_may_not_see_find_nothing(library):
    for word in (*OTHERS_ONLY, *HIDDEN_WORDS):
        result = search(library, word, BUYER)
        assert result.total == 0 and result.hits == [], word
        assert all(not counts for counts in result.facets.values()), word
        assert word not in everything_said(result), word  # a correction is their own word


def test_a_buyers_words_are_corrected_and_completed_from_their_items_titles_and_summaries(
        library):
    assert search(library, "retial", BUYER).suggestion == "retail"
    assert search(library, "investmnt", BUYER).suggestion == "investment"
    assert "investment" in library.suggest("inv", BUYER)
    assert "onboarding" in " ".join(library.suggest("onb", BUYER)).lower()
    # not from items they may not see, however close
    assert search(library, "securty", BUYER).suggestion is None
    assert not any("security" in s.lower() for s in library.suggest("secu", BUYER))


def test_the_rep_only_words_of_a_buyers_own_item_are_never_offered(harness):
    backend = harness.new()
    backend.index_items([item("mine", "Forecast guide", summary="Plain words for buyers.",
                              argument_text="Ask about the okapiwords they dread.",
                              body_text="Notes on bodywords.")])
    buyer = Viewer(sees_internal=False, allowed_slugs=frozenset({"mine"}))
    assert search(backend, "okapiwrds", buyer).suggestion is None
    assert not any("okapi" in s for s in backend.suggest("okap", buyer))
    assert search(backend, "okapiwrds", Viewer(sees_internal=True)).suggestion == "okapiwords"
    assert search(backend, "forcast", buyer).suggestion == "forecast"  # from the title


def test_title_completions_are_the_buyers_titles_only(library):
    assert library.suggest("ROI", BUYER) == ["ROI calculator"]
    assert library.suggest("Retail", BUYER) == ["retailer", "Retail customer story"]
    for prefix in ("Security", "CRM", "Handling", "Battle", "Internal", "Launch", "Old w"):
        assert library.suggest(prefix, BUYER) == [], prefix


def test_nothing_allowed_sees_nothing(library):
    for text in ("", "return", "integration", "zanzibar"):
        result = search(library, text, NOBODY, per_page=100)
        assert (result.total, result.hits, result.suggestion) == (0, [], None), text
        assert all(not result.facets.get(facet) for facet in FACETS), text
    assert library.suggest("ROI", NOBODY) == []
    assert library.suggest("Retail", NOBODY) == []


def test_staff_with_allowed_slugs_are_held_to_them_too(library):
    held = Viewer(sees_internal=True, allowed_slugs=frozenset({"rival-battlecard", "launch-draft"}))
    assert slugs(search(library, "", held, per_page=100)) == ["rival-battlecard"]


def test_an_allowed_item_changed_or_removed_is_seen_as_it_now_is(harness):
    backend = harness.new()
    backend.index_items(LIBRARY)
    assert slugs(search(backend, "investment", BUYER)) == ["roi-calculator"]
    backend.index_items([replace(next(i for i in LIBRARY if i.slug == "roi-calculator"),
                                 audience="internal")])
    assert set(slugs(search(backend, "", BUYER, per_page=100))) == ALLOWED - {"roi-calculator"}
    backend.remove_items(["retail-story"])
    assert set(slugs(search(backend, "", BUYER, per_page=100))) == {"onboarding-plan"}
    backend.index_items([item("retail-story", "Retail story renewed", summary="New words.")])
    assert slugs(search(backend, "renewed", BUYER)) == ["retail-story"]
