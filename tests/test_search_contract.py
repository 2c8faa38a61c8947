"""The search contract: every backend gives the same answers to the same library.

Each test here runs against the Whoosh backend (an index in a temporary folder) and the
PostgreSQL backend (tables in a scratch database made for the session), with the library
of tests/search_library.py. What only one backend promises (its files, its tables, its
locks) is in tests/test_search_backend.py.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search_index import FACETS, IndexBusy, SearchQuery
from search_index.base import merge_suggestions
from search_index.query_text import MAX_TERMS, parse
from search_index.spelling import MAX_CORRECTION_WORK
from tests.search_library import (
    ADMIN,
    BACKENDS,
    CHAMPION,
    HIDDEN_WORDS,
    LIBRARY,
    MANAGER,
    NOW,
    PAYBACK,
    REP,
    UNPUBLISHED_WORDS,
    everything_said,
    harness_for,
    item,
    only_marks,
    reference_facets,
    search,
    slugs,
    visible,
    visible_slugs,
)


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


@pytest.fixture
def fresh(harness):
    backend = harness.new(writer_timeout=0.5)
    backend.index_items(LIBRARY)
    return backend


@pytest.fixture
def empty(harness):
    return harness.new()


# Relevance ----------------------------------------------------------------------------


def test_a_title_match_beats_body_matches(library):
    result = search(library, "integration")
    assert slugs(result)[0] == "crm-setup-guide"
    assert set(slugs(result)) == {"crm-setup-guide", "security-overview", "retail-story", "rival-battlecard"}
    assert result.total == 4
    assert search(library, "integration", CHAMPION).total == 3


def test_stemming_finds_other_forms_of_a_word(library):
    assert slugs(search(library, "integrating"))[0] == "crm-setup-guide"
    assert "price-objections" in slugs(search(library, "objection"))
    assert "crm-setup-guide" in slugs(search(library, "connected"))
    assert "retail-story" in slugs(search(library, "retailers"))


def every_word(result) -> list[str]:
    """The hits having every word typed (those with only some follow them)."""
    return [hit.slug for hit in result.hits if not hit.missing]


def test_the_first_results_have_every_word(library):
    assert every_word(search(library, "price objections")) == ["price-objections"]
    assert search(library, "calculator encryption").all_words == 0


def test_a_quoted_phrase_needs_its_words_together_and_in_order(library):
    assert "security-overview" in slugs(search(library, "investment return"))
    phrase = search(library, '"return on investment"')
    assert set(slugs(phrase)) == {"roi-calculator", "price-objections"}
    assert phrase.hits[0].slug == "roi-calculator"  # the summary outranks the body
    assert slugs(search(library, '"pushes back on price"')) == ["price-objections"]
    assert search(library, '"price back pushes"').total == 0


def test_a_phrase_never_runs_from_one_field_into_the_next(library):
    # the title ends with "guide", the summary starts with "Connecting"
    assert search(library, '"guide connecting"').total == 0
    assert slugs(search(library, "guide connecting")) == ["crm-setup-guide"]


def test_phrases_are_found_in_every_text_field(empty):
    empty.index_items(
        [
            item("in-body", "One", body_text="Talk about the total cost of ownership early."),
            item("in-argument", "Two", argument_text="Cost of ownership drops by half."),
            item("in-file", "Three", file_text="Appendix: cost of ownership model."),
            item("in-tags", "Four", tag_names="Total cost and ownership"),
            item("apart", "Five", body_text="Ownership has a cost.", summary="cost"),
        ]
    )
    found = set(slugs(search(empty, '"cost of ownership"')))
    assert found == {"in-body", "in-argument", "in-file", "in-tags"}  # a stop word is any stop word
    assert search(empty, '"ownership cost"').total == 0
    assert search(empty, "ownership cost").total == 5


def test_phrases_survive_updates_deletions_and_merges(empty):
    empty.index_items([item("keep", "Keep", body_text="the renewal forecast is due")])
    for n in range(12):  # small commits: Whoosh merges segments, followers and all
        empty.index_items([item(f"noise-{n}", f"Noise {n}", body_text="forecast renewal noise")])
    empty.index_items([item("late", "Late", body_text="a renewal forecast again")])
    assert set(slugs(search(empty, '"renewal forecast"'))) == {"keep", "late"}
    empty.index_items([item("keep", "Keep", body_text="nothing to see")])
    empty.remove_items(["late"])
    assert search(empty, '"renewal forecast"').total == 0
    assert search(empty, '"forecast renewal"').total == 12


def test_a_rare_second_word_leads_the_phrase_scan(empty):
    common = [item(f"c{n}", f"Common {n}", body_text="pipeline review " * 3) for n in range(40)]
    empty.index_items(common + [item("rare", "Rare", body_text="the pipeline hygiene checklist")])
    assert slugs(search(empty, '"pipeline hygiene"')) == ["rare"]
    assert search(empty, '"hygiene pipeline"').total == 0
    assert search(empty, '"pipeline review"', per_page=100).total == 40


def test_every_field_adds_to_a_score(empty):
    filler = " ".join(f"word{n}" for n in range(20))
    empty.index_items(
        [item(f"noise-{n}", f"Noise {n}", body_text=filler) for n in range(30)]
        + [
            item("title-only", "Quarterly pricing", body_text=filler),
            item("title-and-body", "Quarterly pricing", body_text=filler + " pricing"),
        ]
    )
    result = search(empty, "pricing")
    assert slugs(result) == ["title-and-body", "title-only"]
    assert result.hits[0].score > result.hits[1].score


def test_scores_are_positive_and_in_order(library):
    result = search(library, "price")
    scores = [hit.score for hit in result.hits]
    assert scores and scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)


def test_freshness_and_usage_lift_a_score_by_at_most_thirty_percent(empty):
    same = {"summary": "Questions for the first discovery call."}
    empty.index_items(
        [
            item("stale", "Discovery questions", updated_at=NOW - timedelta(days=500), **same),
            item("half", "Discovery questions", updated_at=NOW - timedelta(days=182), **same),
            item("fresh", "Discovery questions", updated_at=NOW, usage_score=1.0, **same),
        ]
    )
    result = search(empty, "discovery questions")
    score = {hit.slug: hit.score for hit in result.hits}
    assert slugs(result) == ["fresh", "half", "stale"]
    assert score["fresh"] / score["stale"] == pytest.approx(1.30, rel=1e-6)
    assert score["half"] / score["stale"] == pytest.approx(1 + 0.15 * (365 - 182) / 365, rel=1e-6)


def test_the_boost_does_not_overturn_a_clearly_better_match(empty):
    empty.index_items(
        [
            item("relevant", "Renewal playbook", updated_at=NOW - timedelta(days=900)),
            item(
                "popular",
                "Expansion guide",
                body_text="One word on renewal among many more about expansion, growth, upsell "
                "and cross-sell motions for existing accounts.",
                updated_at=NOW,
                usage_score=1.0,
            ),
        ]
    )
    assert slugs(search(empty, "renewal")) == ["relevant", "popular"]


def test_scores_a_champion_sees_ignore_documents_they_cannot_see(fresh):
    before = {hit.slug: hit.score for hit in search(fresh, "price", CHAMPION).hits}
    fresh.index_items(
        [
            item(
                f"hidden-{n}",
                "Price price price",
                summary="price " * 25,
                audience="internal" if n % 2 else "external",
                status="published" if n % 2 else "draft",
            )
            for n in range(16)
        ]
    )
    after = {hit.slug: hit.score for hit in search(fresh, "price", CHAMPION).hits}
    assert after.keys() == before.keys()
    for slug, score in before.items():
        assert after[slug] == pytest.approx(score, rel=1e-9)


# Synonyms --------------------------------------------------------------------------------


def test_a_synonym_widens_a_word_to_words_and_phrases(library):
    assert search(library, "payback").total == 0
    widened = search(library, "payback", synonyms=PAYBACK)
    assert set(slugs(widened)) == {"roi-calculator", "price-objections"}
    assert "<mark>" in widened.hits[0].highlight
    assert widened.suggestion is None


def test_a_typed_run_of_words_or_phrase_that_is_a_synonym_is_widened(library):
    assert every_word(search(library, "return on investment calculator", synonyms=PAYBACK)) == [
        "roi-calculator"
    ]
    quoted = set(slugs(search(library, '"return on investment"', synonyms=PAYBACK)))
    assert quoted == {"roi-calculator", "price-objections"}
    assert search(library, "roi", synonyms=PAYBACK).total == 2


def test_synonyms_never_reach_hidden_items(library):
    table = (("payback", "zanzibar", "marmoset", "quokka"),)
    assert search(library, "payback", CHAMPION, synonyms=table).total == 0
    assert set(slugs(search(library, "payback", REP, synonyms=table))) == {"rival-battlecard", "floor-prices"}
    assert search(library, "payback", ADMIN, synonyms=table).suggestion is None


def test_odd_synonym_tables_are_ignored(library):
    odd = ("alone", ("",), ("one",), ("the", "a"), ("x" * 5000, "price"), [1, 2], ("pri\x00ce", "roi"))
    assert search(library, "price", synonyms=odd).total == search(library, "price").total
    huge = tuple((f"w{n}", "price") for n in range(5000))
    started = time.perf_counter()
    search(library, "w1 w2 w3", synonyms=huge)
    assert time.perf_counter() - started < 2.0


# Highlights ------------------------------------------------------------------------------


def test_highlights_mark_matches_and_escape_everything_else(empty):
    empty.index_items(
        [
            item(
                "xss",
                'Sly <img src=x onerror="alert(1)"> title',
                summary="<script>alert('x')</script> & integrating <b>bold</b> ideas",
            )
        ]
    )
    hit = search(empty, "integration").hits[0]
    assert only_marks(hit.highlight)
    assert "<mark>integrating</mark>" in hit.highlight
    assert "&lt;script&gt;" in hit.highlight and "&amp;" in hit.highlight
    browsing = search(empty, "").hits[0]
    assert only_marks(browsing.highlight) and "<mark>" not in browsing.highlight
    title = search(empty, "sly").hits[0]
    assert only_marks(title.highlight) and "<mark>Sly</mark>" in title.highlight
    assert "&lt;img" in title.highlight


def test_the_highlight_of_a_long_summary_is_a_window_around_the_match(empty):
    summary = "filler " * 200 + "the kangaroo clause " + "padding " * 200
    empty.index_items([item("long", "Long one", summary=summary)])
    text = search(empty, "kangaroo").hits[0].highlight
    assert "<mark>kangaroo</mark>" in text
    assert len(text) < 400 and text.startswith("\u2026") and text.endswith("\u2026")


# Facets and filters ----------------------------------------------------------------------


def test_browsing_counts_every_facet_exactly(library):
    result = search(library, "")
    assert result.total == len(visible(REP))
    assert result.facets == reference_facets(visible(REP), {})
    assert result.facets["stakeholder"]["cfo"] == 4
    assert result.facets["vertical"] == {"retail": 4, "finance": 3, "defence": 1}
    assert list(result.facets) == list(FACETS)


@pytest.mark.parametrize(
    "filters",
    [
        {"stakeholder": ("cfo",)},
        {"stakeholder": ("cfo", "ciso")},
        {"stakeholder": ("cfo",), "vertical": ("finance",)},
        {"solution": ("analytics",), "stage": ("negotiate", "business-case")},
        {"type": ("guide",), "vertical": ("retail",)},
        {"stage": ("negotiate",), "stakeholder": ("board", "cfo"), "vertical": ("defence", "retail")},
    ],
)
def test_or_within_a_facet_and_across_facets(library, filters):
    for viewer in (REP, CHAMPION):
        seen = visible(viewer)
        chosen = [i for i in seen if all(set(i.facet_values()[f]) & set(v) for f, v in filters.items())]
        result = search(library, "", viewer, filters=filters, per_page=100)
        assert result.total == len(chosen)
        assert set(slugs(result)) == {i.slug for i in chosen}
        assert result.facets == reference_facets(seen, filters)


def test_a_facets_counts_ignore_its_own_selection(library):
    everything = search(library, "")
    narrowed = search(library, "", filters={"stakeholder": ("ciso",)})
    assert narrowed.total == 1
    assert narrowed.facets["stakeholder"] == everything.facets["stakeholder"]
    assert narrowed.facets["vertical"] == {"finance": 1}


def test_widening_within_and_narrowing_across(library):
    cfo = search(library, "", filters={"stakeholder": ("cfo",)}).total
    either = search(library, "", filters={"stakeholder": ("cfo", "it-lead")}).total
    both = search(library, "", filters={"stakeholder": ("cfo",), "vertical": ("finance",)}).total
    assert either > cfo > both == 1


def test_words_and_filters_together(library):
    result = search(library, "integration", filters={"vertical": ("finance",)})
    assert set(slugs(result)) == {"crm-setup-guide", "security-overview"}
    assert result.facets["vertical"] == {"finance": 2, "retail": 2}
    assert result.facets["type"] == {"guide": 1, "whitepaper": 1}


def pricing_notes() -> list:
    """Every way of passing or missing each of three selections, for both audiences, with
    the word "pricing" a different number of times; a draft and an item without the word."""
    notes = []
    combinations = itertools.product(("negotiate", "discover"), ("cfo", "ciso"), ("retail", "finance"))
    for n, (stage, holder, vertical) in enumerate(combinations):
        for audience in ("external", "internal"):
            notes.append(item(f"pricing-{n}-{audience}", f"Pricing note {n}", summary="pricing " * (n + 1),
                              stages=(stage,), stakeholders=(holder,), verticals=(vertical,),
                              type=("guide", "battlecard")[n % 2], audience=audience))
    tagged = {"stages": ("negotiate",), "stakeholders": ("cfo",), "verticals": ("retail",)}
    notes.append(item("pricing-draft", "Pricing draft", status="draft", **tagged))
    notes.append(item("onboarding", "Onboarding checklist", **tagged))
    return notes


@pytest.mark.parametrize("filters", [
    {},
    {"stage": ("negotiate",)},
    {"stage": ("negotiate",), "stakeholder": ("cfo",)},
    {"stage": ("negotiate", "discover"), "stakeholder": ("cfo",), "vertical": ("retail",)},
    {"stage": ("negotiate",), "stakeholder": ("cfo",), "vertical": ("retail",), "type": ("guide",)},
])
def test_words_with_several_selections_count_each_facet_over_the_others(empty, filters):
    # PostgreSQL counts and ranks the matches in one pass and leaves out the rows missing
    # two selections or more: these must still count exactly as the rule says.
    notes = pricing_notes()
    empty.index_items(notes)
    for viewer in (REP, CHAMPION):
        matched = [i for i in notes if i.status == "published" and i.slug != "onboarding"
                   and (viewer.sees_internal or i.audience == "external")]
        chosen = {i.slug for i in matched
                  if all(set(i.facet_values()[f]) & set(v) for f, v in filters.items())}
        result = search(empty, "pricing", viewer, filters=filters, per_page=100)
        assert result.total == result.all_words == len(chosen) and result.match == "all"
        assert set(slugs(result)) == chosen
        assert result.facets == reference_facets(matched, filters)
        scores = [hit.score for hit in result.hits]
        assert scores == sorted(scores, reverse=True)
        paged = []
        for page in range(1, len(chosen) // 3 + 2):
            one = search(empty, "pricing", viewer, filters=filters, page=page, per_page=3)
            assert one.total == len(chosen) and one.facets == result.facets
            paged += slugs(one)
        assert paged == slugs(result)


def test_an_item_for_every_vertical_matches_no_vertical_filter(library):
    assert search(library, "onboarding plan").all_words == 1
    assert search(library, "onboarding plan", filters={"vertical": ("finance",)}).all_words == 0


def test_unknown_facets_and_values_are_harmless(library):
    assert search(library, "", filters={"colour": ("red",)}).total == len(visible(REP))
    assert search(library, "", filters={"stage": ("no-such-stage",)}).total == 0
    odd = search(library, "", filters={"stage": ("x\x00y", "\ud800"), "type": ("guide",)})
    assert odd.total == 0 and odd.facets["stage"] == {"discover": 1, "implementation": 1}


# Paging ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "price OR integration OR guide", "the", "customer"])
def test_pages_cover_every_result_exactly_once(library, text):
    first = search(library, text, per_page=3)
    seen: list[str] = []
    for page in range(1, first.total // 3 + 2):
        result = search(library, text, page=page, per_page=3)
        assert result.total == first.total
        seen.extend(slugs(result))
    assert len(seen) == len(set(seen)) == first.total


def test_browsing_shows_the_freshest_first(library):
    found = slugs(search(library, "", per_page=100))
    assert found[0] == "onboarding-plan"  # two days old
    assert found[-1] == "retail-story"  # 400 days old


def test_a_page_past_the_end_is_empty_but_keeps_the_total(library):
    result = search(library, "", page=40, per_page=10)
    assert result.hits == [] and result.total == len(visible(REP))
    clamped = search(library, "", page=-3, per_page=10_000)
    assert len(clamped.hits) == len(visible(REP))


def test_page_and_per_page_are_clamped():
    query = SearchQuery(page=0, per_page=10_000).clamped()
    assert (query.page, query.per_page) == (1, 100)
    assert SearchQuery(per_page=0).clamped().per_page == 1


# Visibility ------------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", [REP, CHAMPION], ids=["staff", "champion"])
def test_only_published_items_the_viewer_may_see_are_counted(library, viewer):
    allowed = visible_slugs(viewer)
    for text in ["", "price", "integration", "customer story", *HIDDEN_WORDS]:
        result = search(library, text, viewer, per_page=100)
        assert set(slugs(result)) <= allowed
        assert result.total == len(result.hits) <= len(allowed)
        for counts in result.facets.values():
            assert all(0 < count <= result.total for count in counts.values())


def test_a_champion_never_learns_of_internal_or_unpublished_items(library):
    browsing = search(library, "", CHAMPION, per_page=100)
    assert set(slugs(browsing)) == visible_slugs(CHAMPION)
    assert browsing.facets == reference_facets(visible(CHAMPION), {})
    shown = {value for counts in browsing.facets.values() for value in counts}
    assert not shown & {"defence", "board", "battlecard", "price-list", "marketing", "healthcare"}
    for word in HIDDEN_WORDS:
        result = search(library, word, CHAMPION)
        assert result.total == 0 and result.hits == [] and result.suggestion is None
        assert all(not counts for counts in result.facets.values())
        assert library.suggest(word[:3], CHAMPION) == []
        assert word not in " ".join(library.suggest(word[:2], CHAMPION)).lower()


def test_unpublished_items_are_found_by_no_one(library):
    for viewer in (REP, ADMIN, MANAGER):
        for word in UNPUBLISHED_WORDS:
            assert search(library, word, viewer).total == 0
        assert library.suggest("Launch", viewer) == []


def test_did_you_mean_offers_only_words_the_viewer_may_see(library):
    assert search(library, "zanzibr", REP).suggestion == "zanzibar"
    assert search(library, "zanzibr", CHAMPION).suggestion is None
    assert search(library, "marmost", CHAMPION).suggestion is None
    assert "initech" not in (search(library, "initek", CHAMPION).suggestion or "")
    for word in ("quokke", "wombar", "capybra"):
        assert search(library, word, REP).suggestion is None
        assert search(library, word, ADMIN).suggestion is None


def test_did_you_mean_corrects_to_words_with_results(library):
    result = search(library, "integraton", CHAMPION)
    assert result.total == 0 and result.suggestion == "integration"
    assert search(library, result.suggestion, CHAMPION).total > 0
    assert search(library, '"retrun on investment"').suggestion == '"return on investment"'
    assert search(library, "integration").suggestion is None  # enough results already
    filtered = search(library, "integraton", filters={"type": ("tool",)})
    assert filtered.suggestion is None  # the correction finds nothing either


def test_a_body_word_spelt_right_is_not_corrected(library):
    # "licence" is only in a body: it must not be "corrected" to something else
    result = search(library, "licence")
    assert result.total == 1 and result.suggestion is None
    assert search(library, "licence calculatr").suggestion == "licence calculator"


def test_correcting_many_misspelt_words_does_bounded_work(library, monkeypatch):
    """Work is counted where every backend draws it: spellings one edit away, and
    lexicon words measured against a typed word."""
    from search_index import postgres_backend, spelling, whoosh_backend

    drawn = Counter()
    edits, measure = spelling.one_edit_away, spelling.distance

    def counted_edits(word):
        for candidate in edits(word):
            drawn["looked up"] += 1
            yield candidate

    def counted_distance(*args, **options):
        drawn["measured"] += 1
        return measure(*args, **options)

    for module in (spelling, whoosh_backend, postgres_backend):
        for name, spy in (("one_edit_away", counted_edits), ("distance", counted_distance)):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, spy)
    words = sorted({w for i in LIBRARY for w in re.findall(r"[a-z]{6,}", (i.summary + i.body_text).lower())})
    misspelt = [word[:2] + word[3:] for word in words][:32]  # a letter dropped: "itegration"
    assert len(misspelt) == 32
    search(library, " ".join(misspelt), ADMIN)
    assert 0 < sum(drawn.values()) <= MAX_CORRECTION_WORK
    drawn.clear()
    assert search(library, "zanzbar", REP).suggestion == "zanzibar"  # one word is still corrected
    assert search(library, "integratoin guidde").suggestion == "integration guide"


def test_suggestions_are_visible_titles_and_words(library):
    rep = library.suggest("int", REP)
    assert {"integration", "CRM integration guide", "Internal price floors"} <= set(rep)
    champion = library.suggest("int", CHAMPION)
    assert "integration" in champion and "CRM integration guide" in champion
    assert "Internal price floors" not in champion and "internal" not in champion
    assert len(champion) == len({s.casefold() for s in champion})
    assert library.suggest("price obj", REP)[0] in ("price objections", "Handling price objections")
    assert "Battlecard against Initech" in library.suggest("initech", REP)
    assert len(library.suggest("a", REP, limit=2)) <= 2
    assert library.suggest("   ", REP) == []
    assert library.suggest("\x00\ud800", REP) == []


@pytest.fixture
def phrases(empty):
    empty.index_items(
        [
            item("case-template", "Business case template", summary="Build the business case with the CFO."),
            *(item(f"cash-{n}", f"Cash flow {n}", summary="Cash kept in the business.") for n in range(4)),
            item("casual", "Business casual dress code", audience="internal"),
            item("capital", "Business capital plan", status="draft"),
            item("ownership", "Ownership model", body_text="The total cost of ownership over five years."),
            item("cases", "Examples", summary="Three business cases that got funded."),
        ]
    )
    return empty


def test_the_last_word_is_completed_into_phrases_the_viewer_may_see(phrases):
    rep = phrases.suggest("business ca", REP)
    assert {"business case", "business casual"} <= set(rep)
    assert "business cash" not in rep  # both words are there, but never side by side
    assert "business capital" not in rep  # a draft's
    assert "Business case template" in rep
    champion = phrases.suggest("Business ca", CHAMPION)
    assert "Business case" in champion
    assert not any("casual" in s.lower() for s in champion)
    assert phrases.suggest("ca", REP)[0] == "cash"  # one word alone: the commonest
    assert "business cases" not in rep  # one spelling of a word: its commonest


def test_a_completion_that_is_a_title_gives_way_to_the_title():
    merged = merge_suggestions(["onboarding plan", "onboarding plans"], ["Onboarding plan", "Other"], 8)
    assert merged == ["onboarding plans", "Onboarding plan", "Other"]


def test_a_completion_needs_every_typed_word_and_may_cross_stop_words(phrases):
    assert "cfo business case" in phrases.suggest("cfo business ca", CHAMPION)
    assert phrases.suggest("ownership business ca", REP) == []  # no document has them all
    assert "total cost of ownership" in phrases.suggest("total cost of ow", CHAMPION)


def test_the_managers_library_finds_every_status_and_audience_by_full_text(library):
    assert library.find_any_status("quokka") == ["launch-draft"]
    assert library.find_any_status("wombats") == ["old-story"]  # archived; stemmed
    assert library.find_any_status("capybara proposal") == ["price-review"]  # in review
    assert library.find_any_status("marmoset approval") == ["floor-prices"]  # internal, in a body
    found = library.find_any_status("integration")
    assert set(found) == {"crm-setup-guide", "security-overview", "retail-story", "rival-battlecard",
                          "launch-draft", "old-story"}
    assert found[0] == "crm-setup-guide"  # in its title
    assert library.find_any_status("payback", synonyms=(("payback", "capybara"),)) == ["price-review"]
    assert library.find_any_status("integration", limit=2) == found[:2]
    assert library.find_any_status("") == library.find_any_status('"" ~ *') == []
    assert search(library, "quokka", ADMIN).total == 0  # readers still see published items only


# What people may type ----------------------------------------------------------------------

ABUSE = [
    "audience:internal",
    "status:draft",
    "slug:rival-battlecard",
    "title:x^100",
    "*a*",
    "zanz*",
    "a~2",
    "zanzibr~2",
    "[a TO z]",
    "{a TO z}",
    "(" * 1000 + "price" + ")" * 1000,
    " ".join(f"term{n}" for n in range(5000)),
    "price " * 5000,
    '"unbalanced quote',
    'price "return on',
    '"""',
    "",
    " \t\n ",
    "\x00",
    "pri\x00ce \x00\x00 zanzibar",
    "\ud800 price \udfff",
    "🚀 price 🔥",
    "\U0001f4a9" * 300,
    "NOT price AND OR integration",
    "price -integration +roi",
    "'); DROP TABLE search_documents; --",
    "\" OR 1=1 --",
    "'; SELECT pg_sleep(5); --",
    "$$; $$ %s %(q)s {} {0}",
    "price & zanzibar | !integration <-> roi:* ",
    "'price':* & 'zanzibar':A",
    "\\\\ // <> & ; ' \" `",
    "x" * 100_000,
]


@pytest.mark.parametrize("text", ABUSE, ids=range(len(ABUSE)))
def test_abusive_text_answers_quickly_and_safely(library, text):
    started = time.perf_counter()
    result = search(library, text, CHAMPION)
    suggestions = library.suggest(text, CHAMPION)
    assert time.perf_counter() - started < 1.0
    assert set(slugs(result)) <= visible_slugs(CHAMPION)
    assert result.total <= len(visible(CHAMPION))
    typed = text.lower()
    untyped = [word for word in HIDDEN_WORDS if word not in typed]
    assert not any(word in everything_said(result) for word in untyped)
    assert not any(word in " ".join(suggestions).lower() for word in untyped)
    assert all(only_marks(hit.highlight) for hit in result.hits)
    assert len(library.fingerprints()) == len(LIBRARY)  # nothing was dropped or changed


def test_field_syntax_is_only_words(library):
    for text in ("audience:internal", "status:draft", "slug:rival-battlecard"):
        assert search(library, text, REP).all_words == 0
    assert every_word(search(library, "internal:floors")) == ["floor-prices"]
    assert search(library, "internal:floors", CHAMPION).total == 0


def test_the_parser_caps_terms_and_length():
    parsed = parse(" ".join(f"term{n}" for n in range(5000)))
    assert len(parsed.terms()) <= MAX_TERMS
    assert len(parse("price " * 5000).terms()) == 1
    assert parse("(" * 1000 + ")" * 1000).is_empty
    assert parse('"return on').terms() == ("return",)
    assert not parse("\x00price\x00").is_empty
    assert parse("🚀").is_empty


def test_empty_text_browses(library):
    assert search(library, "  ").total == search(library, "").total == len(visible(REP))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(
            st.sampled_from(
                [*HIDDEN_WORDS, "price", "integration", '"', "(", ")", ":", "*", "&", "|", "!", "<->",
                 "'", "audience:internal", "AND", "OR", "NOT", "~", "^", "[", "TO", "]", "\x00", "🚀",
                 "--", ";"]
            ),
            max_size=30,
        ).map(" ".join),
    ),
    page=st.integers(min_value=-5, max_value=20),
    per_page=st.integers(min_value=-5, max_value=500),
    stage=st.lists(st.sampled_from(["negotiate", "discover", "business-case", "x"]), max_size=3),
)
def test_any_text_never_fails_nor_reveals_hidden_items(library, text, page, per_page, stage):
    filters = {"stage": tuple(stage)} if stage else {}
    query = SearchQuery(text=text, page=page, per_page=per_page, filters=filters)
    result = library.search(query, CHAMPION)
    assert set(slugs(result)) <= visible_slugs(CHAMPION)
    assert result.total <= len(visible(CHAMPION))
    untyped = [word for word in HIDDEN_WORDS if word not in text.lower()]
    assert not any(word in everything_said(result) for word in untyped)
    said = " ".join(library.suggest(text, CHAMPION)).lower()
    assert not any(word in said for word in untyped)


# Keeping the index in step -----------------------------------------------------------------


def test_indexing_again_replaces_by_slug(fresh):
    changed = replace(LIBRARY[0], title="Salesforce connector guide", fingerprint="print-new")
    fresh.index_items([changed, changed])
    assert slugs(search(fresh, "salesforce")) == ["crm-setup-guide"]
    assert search(fresh, "crm integration guide").all_words == 0
    assert "integration" not in fresh.suggest("crm int", CHAMPION)[0:1]
    assert fresh.fingerprints()["crm-setup-guide"] == "print-new"
    assert len(fresh.fingerprints()) == len(LIBRARY)


def test_publishing_and_archiving_change_who_finds_an_item(fresh):
    draft = next(i for i in LIBRARY if i.slug == "launch-draft")
    fresh.index_items([replace(draft, status="published")])
    assert slugs(search(fresh, "quokka", CHAMPION)) == ["launch-draft"]
    assert "quokka" in fresh.suggest("quokk", CHAMPION)
    assert search(fresh, "quokke", CHAMPION).suggestion == "quokka"
    fresh.index_items([replace(draft, status="archived")])
    assert search(fresh, "quokka", CHAMPION).total == 0
    assert fresh.suggest("quokk", CHAMPION) == []
    assert search(fresh, "quokke", REP).suggestion is None


def test_an_item_turned_internal_leaves_what_champions_see(fresh):
    story = next(i for i in LIBRARY if i.slug == "retail-story")
    fresh.index_items([replace(story, audience="internal")])
    assert search(fresh, "retailer", CHAMPION).total == 0
    assert "retailer" not in fresh.suggest("retail", CHAMPION)
    assert search(fresh, "retailer", REP).total == 1


def test_removed_items_are_gone_everywhere(fresh):
    fresh.remove_items(["roi-calculator", "no-such-item"])
    assert "roi-calculator" not in slugs(search(fresh, "return on investment"))
    assert "roi-calculator" not in fresh.fingerprints()
    assert search(fresh, "", filters={"type": ("tool",)}).total == 0
    assert "tool" not in search(fresh, "").facets["type"]
    assert "ROI calculator" not in fresh.suggest("roi", REP)
    fresh.remove_items([])


def test_fingerprints_name_every_indexed_slug(fresh):
    assert fresh.fingerprints() == {i.slug: i.fingerprint for i in LIBRARY}


def test_an_item_without_a_slug_is_refused(empty):
    with pytest.raises(ValueError):
        empty.index_items([item("", "No slug")])


def test_rebuild_replaces_everything(fresh):
    guides = [i for i in LIBRARY if i.type == "guide"]
    assert fresh.rebuild(iter(guides + guides)) == len(guides)
    assert fresh.fingerprints() == {i.slug: i.fingerprint for i in guides}
    assert search(fresh, "price").total == 0
    assert search(fresh, "").total == len(guides)
    assert fresh.suggest("zan", REP) == []
    assert not fresh.needs_rebuild()


def test_a_failed_rebuild_leaves_the_index_alone(fresh):
    def broken():
        yield LIBRARY[0]
        raise RuntimeError("the database went away")

    before = fresh.fingerprints()
    with pytest.raises(RuntimeError):
        fresh.rebuild(broken())
    assert fresh.fingerprints() == before
    fresh.index_items([replace(LIBRARY[0], fingerprint="print-after")])  # nothing stayed locked
    assert fresh.fingerprints()["crm-setup-guide"] == "print-after"


def test_clear_empties_the_index(fresh):
    fresh.clear()
    assert fresh.fingerprints() == {}
    assert search(fresh, "").total == 0
    assert fresh.suggest("int", REP) == []
    fresh.index_items(LIBRARY[:1])
    assert search(fresh, "").total == 1


def test_writers_get_index_busy_while_another_holds_the_lock(harness, fresh):
    with harness.lock_held(fresh):
        started = time.perf_counter()
        with pytest.raises(IndexBusy):
            fresh.index_items([replace(LIBRARY[0], fingerprint="print-blocked")])
        with pytest.raises(IndexBusy):
            fresh.remove_items(["roi-calculator"])
        with pytest.raises(IndexBusy):
            fresh.rebuild(LIBRARY)
        assert time.perf_counter() - started < 3.0
        assert search(fresh, "").total == len(visible(REP))  # reading goes on
    fresh.index_items([replace(LIBRARY[0], fingerprint="print-later")])
    assert fresh.fingerprints()["crm-setup-guide"] == "print-later"


def test_searching_in_threads_while_writing(fresh):
    failures: list[BaseException] = []
    stop = threading.Event()
    allowed = visible_slugs(CHAMPION) | {"extra-0", "extra-1"}

    def read():
        try:
            while not stop.is_set():
                assert set(slugs(search(fresh, "price integration guide", CHAMPION))) <= allowed
                search(fresh, "", REP, filters={"stage": ("negotiate",)})
                fresh.suggest("pri", REP)
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        for n in range(6):
            fresh.index_items([item(f"extra-{n % 2}", f"Extra guide {n}", summary="price integration")])
            fresh.remove_items([f"extra-{(n + 1) % 2}"])
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert not failures, failures[0]
