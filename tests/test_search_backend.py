"""The search backend: relevance, facets, paging, visibility, abuse, index care.

Everything runs against a real Whoosh index in a temporary folder, built from a
small library whose right answers are known.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index

from content_library.records import SearchableItem, Viewer
from search_index import (
    FACETS,
    IndexBusy,
    SearchQuery,
    available_backends,
    create_backend,
    register_backend,
)
from search_index.query_text import FIELD_BOOSTS, MAX_TERMS, build_query, parse, plan
from search_index.whoosh_backend import WhooshBackend
from search_index.whoosh_store import IndexStore

NOW = datetime.now(UTC)
REP = Viewer("rep")
ADMIN = Viewer("admin")
CHAMPION = Viewer("champion")


def make_item(slug: str, title: str, **fields) -> SearchableItem:
    values = dict(
        slug=slug,
        title=title,
        summary="",
        body_text="",
        argument_text="",
        file_text="",
        tag_names="",
        type="guide",
        audience="external",
        status="published",
        updated_at=NOW - timedelta(days=30),
        usage_score=0.0,
        fingerprint=f"fp-{slug}",
    )
    values.update(fields)
    return SearchableItem(**values)


LIBRARY = [
    make_item(
        "crm-integration-guide",
        "CRM integration guide",
        summary="Step-by-step guide to connecting the CRM.",
        body_text="Data sync runs every hour. Admins approve the connection.",
        stages=("discover",),
        stakeholders=("it-director",),
        solutions=("crm-connect",),
        verticals=("finance",),
        type="guide",
    ),
    make_item(
        "pricing-objection-handling",
        "Handling pricing objections",
        summary="What to say when the buyer pushes back on price.",
        body_text="Lead with the return on investment, then discuss terms.",
        argument_text="Price is what you pay; value is what you get.",
        stages=("negotiate",),
        stakeholders=("cfo", "procurement"),
        solutions=("analytics",),
        verticals=("retail",),
        type="playbook",
    ),
    make_item(
        "roi-calculator",
        "ROI calculator",
        summary="Show the return on investment of the platform.",
        body_text="Enter licence costs and hours saved.",
        stages=("business-case",),
        stakeholders=("cfo",),
        solutions=("analytics",),
        verticals=("finance", "retail"),
        type="tool",
    ),
    make_item(
        "security-whitepaper",
        "Security whitepaper",
        summary="How we protect customer data.",
        body_text="Single sign-on integration, encryption at rest, investment in audits "
        "pays a return over time.",
        stages=("technical-validation",),
        stakeholders=("ciso", "it-director"),
        solutions=("crm-connect",),
        verticals=("finance",),
        type="whitepaper",
    ),
    make_item(
        "retail-case-study",
        "Retail case study",
        summary="How a retailer cut onboarding time in half.",
        body_text="The integration took two weeks.",
        stages=("business-case",),
        stakeholders=("cfo",),
        solutions=("crm-connect", "analytics"),
        verticals=("retail",),
        type="case-study",
        updated_at=NOW - timedelta(days=400),
    ),
    make_item(
        "onboarding-checklist",
        "Onboarding checklist",
        summary="Everything a new customer needs in week one.",
        body_text="Invite users, map fields, schedule training.",
        stages=("implementation",),
        stakeholders=("it-director",),
        solutions=("crm-connect",),
        verticals=(),
        type="guide",
        updated_at=NOW - timedelta(days=2),
    ),
    # --- never shown to a champion -------------------------------------------
    make_item(
        "competitive-battlecard",
        "Competitive battlecard against Globex",
        summary="Where we win and lose; zanzibar pricing tiers.",
        body_text="Zanzibar discount ladder. Integration gaps of Globex.",
        stages=("negotiate",),
        stakeholders=("cfo",),
        solutions=("analytics",),
        verticals=("retail",),
        type="battlecard",
        audience="internal",
    ),
    make_item(
        "internal-pricing-sheet",
        "Internal pricing sheet",
        summary="List prices and floor prices for the defense sector.",
        body_text="Marmoset approval needed below floor.",
        stages=("negotiate",),
        stakeholders=("board",),
        solutions=("analytics",),
        verticals=("defense",),
        type="price-list",
        audience="internal",
    ),
    # --- never shown to anyone ------------------------------------------------
    make_item(
        "launch-plan-draft",
        "Launch plan draft",
        summary="Quokka launch messaging for the integration release.",
        stages=("discover",),
        stakeholders=("marketing",),
        verticals=("healthcare",),
        type="playbook",
        status="draft",
    ),
    make_item(
        "old-case-study",
        "Old wombat case study",
        summary="Wombat retired customer story about integration.",
        stages=("business-case",),
        type="case-study",
        status="archived",
    ),
    make_item(
        "pricing-review",
        "Pricing under review",
        summary="Capybara pricing proposal.",
        stages=("negotiate",),
        type="playbook",
        status="in_review",
    ),
]

HIDDEN_WORDS = ("zanzibar", "marmoset", "quokka", "wombat", "capybara", "globex")
DRAFT_WORDS = ("quokka", "wombat", "capybara")


def visible_items(viewer: Viewer) -> list[SearchableItem]:
    return [
        item
        for item in LIBRARY
        if item.status == "published" and (item.audience == "external" or not viewer.external_only)
    ]


def visible_slugs(viewer: Viewer) -> set[str]:
    return {item.slug for item in visible_items(viewer)}


def expected_facets(items, filters) -> dict[str, dict[str, int]]:
    """The reference rule: a facet's counts honour every other facet's selection."""
    counts = {}
    for facet in FACETS:
        by_value: dict[str, int] = {}
        for item in items:
            values = item.facet_values()
            if all(set(values[other]) & set(chosen) for other, chosen in filters.items() if other != facet):
                for value in values[facet]:
                    by_value[value] = by_value.get(value, 0) + 1
        counts[facet] = by_value
    return counts


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> WhooshBackend:
    backend = WhooshBackend(tmp_path_factory.mktemp("search") / "index")
    backend.index_items(LIBRARY)
    return backend


@pytest.fixture
def fresh(tmp_path) -> WhooshBackend:
    backend = WhooshBackend(tmp_path / "index", writer_timeout=1.0)
    backend.index_items(LIBRARY)
    return backend


def search(backend, text="", viewer=REP, **options):
    return backend.search(SearchQuery(text=text, **options), viewer)


def slugs_of(result) -> list[str]:
    return [hit.slug for hit in result.hits]


def all_text(result) -> str:
    return " ".join(
        [hit.highlight for hit in result.hits]
        + [value for counts in result.facets.values() for value in counts]
        + [result.suggestion or ""]
    ).lower()


# Registry ------------------------------------------------------------------


def test_registry_creates_whoosh_and_stays_open(tmp_path):
    assert "whoosh" in available_backends()
    backend = create_backend("whoosh", index_dir=tmp_path / "ix")
    assert isinstance(backend, WhooshBackend)
    with pytest.raises(ValueError, match="unknown search backend"):
        create_backend("elastic")
    register_backend("memory-test", lambda **options: backend)
    assert create_backend("memory-test") is backend


# Relevance -------------------------------------------------------------------


def test_title_match_beats_body_match(library):
    result = search(library, "integration")
    found = slugs_of(result)
    assert found[0] == "crm-integration-guide"
    assert {"security-whitepaper", "retail-case-study"} <= set(found)
    assert result.total == 4  # the internal battlecard too: a rep may see it
    assert all(slug in visible_slugs(REP) for slug in found)


def test_stemming_finds_other_forms(library):
    assert slugs_of(search(library, "integrating"))[0] == "crm-integration-guide"
    assert "pricing-objection-handling" in slugs_of(search(library, "objection"))
    assert "crm-integration-guide" in slugs_of(search(library, "connected"))


def test_terms_are_anded(library):
    result = search(library, "pricing objections")
    assert slugs_of(result) == ["pricing-objection-handling"]


def test_quoted_phrase_needs_the_words_together(library):
    loose = set(slugs_of(search(library, "investment return")))
    assert "security-whitepaper" in loose  # "investment ... return" apart
    phrase = search(library, '"return on investment"')
    assert set(slugs_of(phrase)) == {"roi-calculator", "pricing-objection-handling"}
    assert phrase.hits[0].slug == "roi-calculator"  # in the summary, not the body


def test_phrases_of_three_words_and_no_phrase_across_fields(library):
    assert slugs_of(search(library, '"pushes back on price"')) == ["pricing-objection-handling"]
    assert search(library, '"pushes price back"').total == 0
    # the title ends with "guide" and the summary starts with "Step": not a phrase
    assert search(library, '"guide step"').total == 0
    assert search(library, "guide step").total == 1


def test_phrases_in_every_text_field_and_across_stop_words(tmp_path):
    backend = WhooshBackend(tmp_path / "ix")
    backend.index_items(
        [
            make_item("in-body", "One", body_text="Talk about the total cost of ownership early."),
            make_item("in-argument", "Two", argument_text="Cost of ownership drops by half."),
            make_item("in-file", "Three", file_text="Appendix: cost of ownership model."),
            make_item("in-tags", "Four", tag_names="Total cost ownership"),
            make_item("apart", "Five", body_text="Ownership has a cost.", summary="cost"),
        ]
    )
    found = set(slugs_of(search(backend, '"cost of ownership"')))
    assert found == {"in-body", "in-argument", "in-file", "in-tags"}  # "of" is a stop word
    assert set(slugs_of(search(backend, '"total cost ownership"'))) == {"in-body", "in-tags"}
    assert search(backend, '"ownership cost"').total == 0
    assert search(backend, "ownership cost").total == 5


def test_phrases_survive_updates_deletions_and_merges(tmp_path):
    backend = WhooshBackend(tmp_path / "ix")
    backend.index_items([make_item("keep", "Keep", body_text="the renewal forecast is due")])
    for n in range(12):  # small commits: Whoosh merges segments, followers and all
        backend.index_items([make_item(f"noise-{n}", f"Noise {n}", body_text="forecast renewal noise")])
    backend.index_items([make_item("late", "Late", body_text="a renewal forecast again")])
    assert set(slugs_of(search(backend, '"renewal forecast"'))) == {"keep", "late"}
    backend.index_items([make_item("keep", "Keep", body_text="nothing to see")])
    backend.remove_items(["late"])
    assert search(backend, '"renewal forecast"').total == 0
    assert search(backend, '"forecast renewal"').total == 12


def test_a_rare_second_word_leads_the_phrase_scan(tmp_path):
    backend = WhooshBackend(tmp_path / "ix")
    common = [make_item(f"c{n}", f"Common {n}", body_text="pipeline review " * 3) for n in range(40)]
    backend.index_items(common + [make_item("rare", "Rare", body_text="the pipeline hygiene checklist")])
    assert slugs_of(search(backend, '"pipeline hygiene"')) == ["rare"]
    assert search(backend, '"hygiene pipeline"').total == 0
    assert search(backend, '"pipeline review"').total == 40


def test_a_body_word_spelt_right_is_not_corrected(library):
    # the lexicon holds title, summary, argument and tag words; "licence"
    # is only in a body, and must not be "corrected" to something else
    result = search(library, "licence")
    assert result.total == 1 and result.suggestion is None
    assert search(library, "licence calculatr").suggestion == "licence calculator"


def test_every_field_adds_to_a_score(tmp_path):
    backend = WhooshBackend(tmp_path / "ix")
    filler = " ".join(f"word{n}" for n in range(20))
    backend.index_items(
        [make_item(f"noise-{n}", f"Noise {n}", body_text=filler) for n in range(30)]
        + [
            make_item("title-only", "Quarterly pricing", body_text=filler),
            make_item("title-and-body", "Quarterly pricing", body_text=filler + " pricing"),
        ]
    )
    result = search(backend, "pricing")
    assert slugs_of(result) == ["title-and-body", "title-only"]
    assert result.hits[0].score > result.hits[1].score


def test_scores_are_ordered_and_positive(library):
    result = search(library, "pricing")
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)


def test_freshness_and_usage_boost_is_modest_and_exact(tmp_path):
    backend = WhooshBackend(tmp_path / "ix")
    twin = dict(summary="Discovery questions for the first call.")
    backend.index_items(
        [
            make_item("stale", "Discovery questions", updated_at=NOW - timedelta(days=500), **twin),
            make_item("fresh", "Discovery questions", updated_at=NOW, usage_score=1.0, **twin),
            make_item("half", "Discovery questions", updated_at=NOW - timedelta(days=365 // 2), **twin),
        ]
    )
    result = search(backend, "discovery questions")
    scores = {hit.slug: hit.score for hit in result.hits}
    assert slugs_of(result) == ["fresh", "half", "stale"]
    assert scores["fresh"] / scores["stale"] == pytest.approx(1.30, rel=1e-6)
    assert scores["half"] / scores["stale"] == pytest.approx(1 + 0.15 * 183 / 365, rel=1e-6)


def test_strong_relevance_is_not_overturned_by_the_boost(tmp_path):
    backend = WhooshBackend(tmp_path / "ix")
    backend.index_items(
        [
            make_item("relevant", "Renewal playbook", updated_at=NOW - timedelta(days=900)),
            make_item(
                "popular",
                "Expansion guide",
                body_text="A word on renewal among many other words about expansion "
                "and growth and upsell and cross-sell motions for accounts.",
                updated_at=NOW,
                usage_score=1.0,
            ),
        ]
    )
    assert slugs_of(search(backend, "renewal")) == ["relevant", "popular"]


# Synonyms --------------------------------------------------------------------

PAYBACK = (("payback", "return on investment", "ROI"),)


def test_synonyms_widen_a_word_to_words_and_phrases(library):
    assert search(library, "payback").total == 0
    widened = search(library, "payback", synonyms=PAYBACK)
    assert set(slugs_of(widened)) == {"roi-calculator", "pricing-objection-handling"}
    assert "<mark>" in widened.hits[0].highlight
    assert widened.suggestion is None


def test_synonyms_match_a_typed_phrase_or_run_of_words(library):
    typed = set(slugs_of(search(library, "return on investment calculator", synonyms=PAYBACK)))
    assert typed == {"roi-calculator"}
    quoted = set(slugs_of(search(library, '"return on investment"', synonyms=PAYBACK)))
    assert quoted == {"roi-calculator", "pricing-objection-handling"}
    assert search(library, "roi", synonyms=PAYBACK).total == 2


def test_synonyms_never_reveal_hidden_items(library):
    table = (("payback", "zanzibar", "marmoset", "quokka"),)
    assert search(library, "payback", CHAMPION, synonyms=table).total == 0
    assert search(library, "payback", REP, synonyms=table).total == 2  # the internal ones
    assert search(library, "payback", ADMIN, synonyms=table).suggestion is None


def test_bad_synonym_tables_are_ignored(library):
    odd = ("lonely", ("",), ("one",), ("the", "a"), ("x" * 10_000, "pricing"), [1, 2])
    assert search(library, "pricing", synonyms=odd).total == search(library, "pricing").total
    huge = tuple((f"w{n}", "pricing") for n in range(5000))
    started = time.perf_counter()
    search(library, "w1 w2 w3", synonyms=huge)
    assert time.perf_counter() - started < 2.0


# Highlights ------------------------------------------------------------------

_TAG = re.compile(r"<[^>]*>")


def only_marks(html: str) -> bool:
    return all(tag in ("<mark>", "</mark>") for tag in _TAG.findall(html))


def test_highlight_marks_matches_and_escapes_everything_else(tmp_path):
    backend = WhooshBackend(tmp_path / "ix")
    backend.index_items(
        [
            make_item(
                "xss",
                'Sneaky <img src=x onerror="alert(1)"> title',
                summary="<script>alert('x')</script> & integrating <b>bold</b> things",
            )
        ]
    )
    hit = search(backend, "integration").hits[0]
    assert only_marks(hit.highlight)
    assert "<mark>integrating</mark>" in hit.highlight
    assert "&lt;script&gt;" in hit.highlight and "&amp;" in hit.highlight
    browse = search(backend, "").hits[0]
    assert only_marks(browse.highlight) and "<mark>" not in browse.highlight
    title_only = search(backend, "sneaky").hits[0]
    assert only_marks(title_only.highlight)
    assert "<mark>Sneaky</mark>" in title_only.highlight
    assert "&lt;img" in title_only.highlight


def test_highlight_of_a_long_summary_is_a_window_around_the_match(tmp_path):
    backend = WhooshBackend(tmp_path / "ix")
    summary = "filler " * 200 + "the kangaroo clause " + "padding " * 200
    backend.index_items([make_item("long", "Long one", summary=summary)])
    text = search(backend, "kangaroo").hits[0].highlight
    assert "<mark>kangaroo</mark>" in text
    assert len(text) < 400 and text.startswith("\u2026") and text.endswith("\u2026")


# Facets and filters --------------------------------------------------------


def test_browse_facet_counts_are_exact(library):
    result = search(library, "")
    assert result.total == len(visible_items(REP))
    assert result.facets == expected_facets(visible_items(REP), {})
    assert result.facets["stakeholder"]["cfo"] == 4
    assert result.facets["vertical"] == {"retail": 4, "finance": 3, "defense": 1}
    assert set(result.facets) == set(FACETS)


@pytest.mark.parametrize(
    "filters",
    [
        {"stakeholder": ("cfo",)},
        {"stakeholder": ("cfo", "ciso")},
        {"stakeholder": ("cfo",), "vertical": ("finance",)},
        {"solution": ("analytics",), "stage": ("negotiate", "business-case")},
        {"type": ("guide",), "vertical": ("retail",)},
    ],
)
def test_filtered_counts_follow_or_within_and_across(library, filters):
    for viewer in (REP, CHAMPION):
        result = search(library, "", viewer, filters=filters)
        items = visible_items(viewer)
        chosen = [
            item for item in items if all(set(item.facet_values()[f]) & set(v) for f, v in filters.items())
        ]
        assert result.total == len(chosen)
        assert set(slugs_of(result)) == {item.slug for item in chosen}
        assert result.facets == expected_facets(items, filters)


def test_counts_of_a_facet_ignore_its_own_selection(library):
    unfiltered = search(library, "")
    narrowed = search(library, "", filters={"stakeholder": ("ciso",)})
    assert narrowed.total == 1
    assert narrowed.facets["stakeholder"] == unfiltered.facets["stakeholder"]
    assert narrowed.facets["vertical"] == {"finance": 1}


def test_or_within_a_facet_widens_and_across_narrows(library):
    cfo = search(library, "", filters={"stakeholder": ("cfo",)}).total
    either = search(library, "", filters={"stakeholder": ("cfo", "it-director")}).total
    both = search(library, "", filters={"stakeholder": ("cfo",), "vertical": ("finance",)}).total
    assert either > cfo > both == 1


def test_text_and_filters_combine(library):
    result = search(library, "integration", filters={"vertical": ("finance",)})
    assert set(slugs_of(result)) == {"crm-integration-guide", "security-whitepaper"}
    assert result.facets["vertical"] == {"finance": 2, "retail": 2}
    assert result.facets["type"] == {"guide": 1, "whitepaper": 1}


def test_empty_tag_list_matches_no_filter(library):
    result = search(library, "onboarding checklist", filters={"vertical": ("finance",)})
    assert result.total == 0
    assert search(library, "onboarding checklist").total == 1


def test_unknown_facets_and_values_are_harmless(library):
    assert search(library, "", filters={"colour": ("red",)}).total == len(visible_items(REP))
    assert search(library, "", filters={"stage": ("no-such-stage",)}).total == 0


# Paging ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "pricing OR integration OR guide", "the"])
def test_pages_cover_every_result_once(library, text):
    first = search(library, text, per_page=3)
    seen = []
    for page in range(1, first.total // 3 + 2):
        result = search(library, text, page=page, per_page=3)
        assert result.total == first.total
        seen.extend(slugs_of(result))
    assert len(seen) == len(set(seen)) == first.total


def test_browse_is_newest_first(library):
    found = slugs_of(search(library, "", per_page=100))
    assert found[0] == "onboarding-checklist"  # updated two days ago
    assert found[-1] == "retail-case-study"  # 400 days ago


def test_a_page_past_the_end_is_empty_with_the_true_total(library):
    result = search(library, "", page=50, per_page=10)
    assert result.hits == [] and result.total == len(visible_items(REP))


def test_page_and_per_page_are_clamped():
    query = SearchQuery(page=0, per_page=10_000).clamped()
    assert (query.page, query.per_page) == (1, 100)
    assert SearchQuery(per_page=0).clamped().per_page == 1


# Visibility --------------------------------------------------------------------


@pytest.mark.parametrize("viewer", [REP, ADMIN, CHAMPION, Viewer("stranger")])
def test_only_published_and_permitted_items_are_ever_counted(library, viewer):
    allowed = visible_slugs(CHAMPION if viewer.role == "stranger" else viewer)
    for text in ["", "pricing", "integration", "case study", *HIDDEN_WORDS]:
        result = search(library, text, viewer, per_page=100)
        assert set(slugs_of(result)) <= allowed
        assert result.total == len(slugs_of(result)) <= len(allowed)
        for counts in result.facets.values():
            assert all(count <= result.total for count in counts.values())


def test_champion_never_learns_of_internal_or_draft_items(library):
    browse = search(library, "", CHAMPION, per_page=100)
    assert set(slugs_of(browse)) == visible_slugs(CHAMPION)
    assert browse.total == len(visible_items(CHAMPION))
    assert "defense" not in browse.facets["vertical"]
    assert "board" not in browse.facets["stakeholder"]
    assert "battlecard" not in browse.facets["type"]
    assert browse.facets == expected_facets(visible_items(CHAMPION), {})
    for word in HIDDEN_WORDS:
        result = search(library, word, CHAMPION)
        assert result.total == 0 and result.hits == [] and result.suggestion is None
        assert all(not counts for counts in result.facets.values())
        assert library.suggest(word[:3], CHAMPION) == []
        assert word not in " ".join(library.suggest(word[:2], CHAMPION)).lower()


def test_did_you_mean_never_offers_a_hidden_word(library):
    # a rep may see the internal battlecard, so the correction is offered...
    assert search(library, "zanzibr", REP).suggestion == "zanzibar"
    # ...but never to a champion, and drafts are offered to no one
    assert search(library, "zanzibr", CHAMPION).suggestion is None
    assert search(library, "marmost", CHAMPION).suggestion is None
    for word in ("quokke", "wombar", "capybra"):
        assert search(library, word, REP).suggestion is None
        assert search(library, word, ADMIN).suggestion is None


def test_did_you_mean_corrects_to_a_visible_word_with_results(library):
    result = search(library, "integraton", CHAMPION)
    assert result.total == 0
    assert result.suggestion == "integration"
    assert search(library, result.suggestion, CHAMPION).total > 0
    phrase = search(library, '"retrun on investment"', REP)
    assert phrase.suggestion == '"return on investment"'
    assert search(library, "pricing", REP).suggestion is None  # plenty of results


def test_suggestions_are_titles_and_words_from_visible_items(library):
    rep = library.suggest("int", REP)
    assert "integration" in rep
    assert "CRM integration guide" in rep
    assert "Internal pricing sheet" in rep
    champion = library.suggest("int", CHAMPION)
    assert "Internal pricing sheet" not in champion
    assert "internal" not in champion
    assert len(champion) == len({s.lower() for s in champion})
    assert library.suggest("pricing obj", REP)[0] in (
        "pricing objections",
        "Handling pricing objections",
    )
    assert len(library.suggest("a", REP, limit=2)) <= 2
    assert library.suggest("   ", REP) == []
    assert library.suggest("Launch", ADMIN) == []  # a draft's title


def test_champion_scores_do_not_depend_on_hidden_documents(fresh):
    before = {hit.slug: hit.score for hit in search(fresh, "pricing", CHAMPION).hits}
    fresh.index_items(
        [
            make_item(
                f"hidden-{n}",
                "Pricing pricing pricing",
                summary="pricing " * 30,
                audience="internal" if n % 2 else "external",
                status="published" if n % 2 else "draft",
            )
            for n in range(20)
        ]
    )
    after = {hit.slug: hit.score for hit in search(fresh, "pricing", CHAMPION).hits}
    assert after.keys() == before.keys()
    for slug, score in before.items():
        assert after[slug] == pytest.approx(score, rel=1e-9)


# Query abuse -------------------------------------------------------------------

ABUSE = [
    "audience:internal",
    "status:draft",
    "title:x^100",
    "*a*",
    "zanz*",
    "a~2",
    "zanzibr~2",
    "[a TO z]",
    "{a TO z}",
    "(" * 1000 + "pricing" + ")" * 1000,
    " ".join(f"word{n}" for n in range(5000)),
    "pricing " * 5000,
    '"unbalanced quote',
    'pricing "return on',
    '"""',
    "",
    "   \t\n  ",
    "\x00",
    "pri\x00cing \x00\x00 zanzibar",
    "🚀 pricing 🔥",
    "\U0001f4a9" * 300,
    "NOT pricing AND OR integration",
    "pricing -integration +roi",
    "slug:competitive-battlecard",
    "\\\\ // <> & ; ' \" `",
    "x" * 100_000,
]


@pytest.mark.parametrize("text", ABUSE, ids=range(len(ABUSE)))
def test_abusive_queries_answer_quickly_and_safely(library, text):
    started = time.perf_counter()
    result = search(library, text, CHAMPION)
    assert time.perf_counter() - started < 1.0
    assert set(slugs_of(result)) <= visible_slugs(CHAMPION)
    assert result.total <= len(visible_items(CHAMPION))
    assert not any(word in all_text(result) for word in HIDDEN_WORDS)
    assert all(only_marks(hit.highlight) for hit in result.hits)


def test_field_syntax_is_just_words(library):
    # "audience:internal" searches the two words; it cannot select internal items
    for text in ("audience:internal", "status:draft", "slug:competitive-battlecard"):
        assert search(library, text, REP).total == 0
    assert slugs_of(search(library, "internal:pricing")) == ["internal-pricing-sheet"]
    assert search(library, "internal:pricing", CHAMPION).total == 0
    query = build_query(plan(parse("title:x^100 audience:internal status:draft")))
    assert {field for field, _ in query.iter_all_terms()} <= set(FIELD_BOOSTS)


def test_parser_caps_terms_and_length():
    parsed = parse(" ".join(f"term{n}" for n in range(5000)))
    assert len(parsed.terms()) <= MAX_TERMS
    assert len(parse("pricing " * 5000).terms()) == 1
    assert parse("(" * 1000 + ")" * 1000).is_empty
    assert parse('"return on').terms() == ("return",)
    assert not parse("\x00pricing\x00").is_empty
    assert parse("🚀").is_empty


def test_empty_text_browses(library):
    assert search(library, "   ").total == search(library, "").total == len(visible_items(REP))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.lists(
            st.sampled_from(
                [
                    *HIDDEN_WORDS,
                    "pricing",
                    "integration",
                    '"',
                    "(",
                    ")",
                    ":",
                    "*",
                    "~",
                    "^",
                    "audience:internal",
                    "AND",
                    "OR",
                    "NOT",
                    "[",
                    "TO",
                    "]",
                    "\x00",
                    "🚀",
                ]
            ),
            max_size=40,
        ).map(" ".join),
    ),
    page=st.integers(min_value=-5, max_value=20),
    per_page=st.integers(min_value=-5, max_value=500),
    stage=st.lists(st.sampled_from(["negotiate", "discover", "business-case", "x"]), max_size=3),
)
def test_any_text_never_raises_nor_reveals_hidden_items(library, text, page, per_page, stage):
    filters = {"stage": tuple(stage)} if stage else {}
    query = SearchQuery(text=text, page=page, per_page=per_page, filters=filters)
    result = library.search(query, CHAMPION)
    assert set(slugs_of(result)) <= visible_slugs(CHAMPION)
    assert result.total <= len(visible_items(CHAMPION))
    # a hidden word may only come back if the user typed it (suggestions echo the text)
    typed = text.lower()
    untyped = [word for word in HIDDEN_WORDS if word not in typed]
    assert not any(word in all_text(result) for word in untyped)
    suggestions = " ".join(library.suggest(text, CHAMPION)).lower()
    assert not any(word in suggestions for word in untyped)


# Keeping the index in step -----------------------------------------------------


def test_upsert_replaces_by_slug(fresh):
    changed = replace(LIBRARY[0], title="Salesforce connector guide", fingerprint="fp-new")
    fresh.index_items([changed, changed])
    assert slugs_of(search(fresh, "salesforce")) == ["crm-integration-guide"]
    assert search(fresh, "crm integration guide").total == 0
    prints = fresh.fingerprints()
    assert len(prints) == len(LIBRARY)
    assert prints["crm-integration-guide"] == "fp-new"


def test_publishing_and_unpublishing_changes_visibility(fresh):
    fresh.index_items([replace(LIBRARY[-3], status="published")])  # the draft
    assert slugs_of(search(fresh, "quokka", CHAMPION)) == ["launch-plan-draft"]
    fresh.index_items([replace(LIBRARY[-3], status="archived")])
    assert search(fresh, "quokka", CHAMPION).total == 0
    assert fresh.suggest("quokk", CHAMPION) == []


def test_remove_items(fresh):
    fresh.remove_items(["roi-calculator", "no-such-item"])
    assert "roi-calculator" not in slugs_of(search(fresh, "return on investment"))
    assert "roi-calculator" not in fresh.fingerprints()
    assert search(fresh, "", filters={"type": ("tool",)}).total == 0
    assert "tool" not in search(fresh, "").facets["type"]
    fresh.remove_items([])


def test_written_segments_are_what_whoosh_alone_writes(tmp_path, monkeypatch):
    """The writer answers field lengths from memory instead of reading them
    back: the postings, terms and length files must come out the same."""
    from whoosh.writing import SegmentWriter

    from search_index import whoosh_store

    def build(folder: Path) -> dict[str, list[bytes]]:
        backend = WhooshBackend(folder)
        backend.index_items(LIBRARY[:6])
        backend.index_items(LIBRARY[6:])
        for n in range(12):  # merges
            backend.index_items([make_item(f"extra-{n}", f"Extra {n}", body_text="some body text " * n)])
        files: dict[str, list[bytes]] = {}
        for path in folder.glob("gen-*/*"):
            if path.suffix in (".pst", ".trm") or "_len" in path.name:
                files.setdefault(path.name.split(".", 1)[1], []).append(path.read_bytes())
        return {kind: sorted(contents) for kind, contents in files.items()}

    ours = build(tmp_path / "ours")
    monkeypatch.setattr(whoosh_store._PatientWriter, "__init__", SegmentWriter.__init__)
    monkeypatch.setattr(whoosh_store._PatientWriter, "per_document_reader", SegmentWriter.per_document_reader)
    plain = build(tmp_path / "plain")
    assert ours == plain and ours


def test_readers_are_reused_until_a_write(fresh):
    search(fresh, "pricing")
    with fresh._readers.lend(*fresh._store.current()) as first:
        pass
    with fresh._readers.lend(*fresh._store.current()) as again:
        assert again is first
    fresh.index_items([make_item("brand-new", "Brand new pricing")])
    with fresh._readers.lend(*fresh._store.current()) as after:
        assert after is not first
    assert "brand-new" in slugs_of(search(fresh, "pricing"))


def test_fingerprints_map_every_indexed_slug(fresh):
    assert fresh.fingerprints() == {item.slug: item.fingerprint for item in LIBRARY}


def generation_folders(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_dir()}


def test_rebuild_swaps_in_a_new_folder(tmp_path):
    folder = tmp_path / "index"
    backend = WhooshBackend(folder)
    backend.index_items(LIBRARY)
    other_process = WhooshBackend(folder)
    assert search(other_process, "pricing").total > 0
    (old,) = generation_folders(folder)

    keep = [item for item in LIBRARY if item.type == "guide"]
    assert backend.rebuild(iter(keep + keep)) == len(keep)

    live = (folder / "CURRENT").read_text().strip()
    assert live != old and generation_folders(folder) == {old, live}
    assert (folder / old / "RETIRED_AT").exists()  # kept a while for readers in flight
    assert backend.fingerprints() == {item.slug: item.fingerprint for item in keep}
    assert search(other_process, "pricing").total == 0
    assert search(other_process, "").total == len(keep)
    assert not backend.needs_rebuild()


def test_retired_folders_and_segments_are_deleted_after_the_grace_period(tmp_path):
    folder = tmp_path / "index"
    backend = WhooshBackend(folder, retire_after=0)
    backend.rebuild(LIBRARY)
    backend.rebuild(LIBRARY[:3])
    live = (folder / "CURRENT").read_text().strip()
    assert generation_folders(folder) == {live}
    for n in range(12):  # enough small commits for Whoosh to merge segments
        backend.index_items([make_item(f"extra-{n}", f"Extra {n}")])
    segments = {p.name.split(".")[0] for p in (folder / live).iterdir() if p.suffix == ".trm"}
    assert len(segments) < 13
    assert search(backend, "").total == 3 + 12


def test_a_failed_rebuild_leaves_the_live_index_alone(fresh, tmp_path):
    def broken():
        yield LIBRARY[0]
        raise RuntimeError("database went away")

    before = fresh.fingerprints()
    with pytest.raises(RuntimeError):
        fresh.rebuild(broken())
    assert fresh.fingerprints() == before
    assert len(generation_folders(tmp_path / "index")) == 1
    fresh.index_items([replace(LIBRARY[0], fingerprint="fp-after")])  # the locks were released
    assert fresh.fingerprints()["crm-integration-guide"] == "fp-after"


def test_clear_empties_the_index(fresh):
    fresh.clear()
    assert fresh.fingerprints() == {}
    assert search(fresh, "").total == 0
    fresh.index_items(LIBRARY[:1])
    assert search(fresh, "").total == 1


def test_index_busy_when_another_writer_holds_the_lock(tmp_path):
    folder = tmp_path / "index"
    backend = WhooshBackend(folder, writer_timeout=0.05)
    backend.index_items(LIBRARY[:2])
    live = (folder / "CURRENT").read_text().strip()
    other = whoosh_index.open_dir(str(folder / live)).writer()
    try:
        started = time.perf_counter()
        with pytest.raises(IndexBusy):
            backend.index_items(LIBRARY[2:3])
        with pytest.raises(IndexBusy):
            backend.remove_items(["roi-calculator"])
        assert time.perf_counter() - started < 2.0
        assert search(backend, "").total == 2  # reads still work
    finally:
        other.cancel()
    backend.index_items(LIBRARY[2:3])
    assert search(backend, "").total == 3


def test_index_busy_while_a_rebuild_holds_the_folder_lock(tmp_path):
    folder = tmp_path / "index"
    backend = WhooshBackend(folder, writer_timeout=0.05)
    with IndexStore(folder).locked():
        with pytest.raises(IndexBusy):
            backend.index_items(LIBRARY[:1])
        with pytest.raises(IndexBusy):
            backend.rebuild(LIBRARY)
    backend.index_items(LIBRARY[:1])
    assert len(backend.fingerprints()) == 1


def test_an_index_of_another_schema_version_is_replaced(tmp_path):
    folder = tmp_path / "index"
    backend = WhooshBackend(folder)
    backend.index_items(LIBRARY)
    live = (folder / "CURRENT").read_text().strip()
    (folder / live / "SCHEMA_VERSION").write_text("0\n")

    reopened = WhooshBackend(folder)
    assert reopened.needs_rebuild()
    assert reopened.fingerprints() == {}
    assert search(reopened, "").total == 0
    reopened.index_items(LIBRARY[:1])
    assert reopened.needs_rebuild()  # still only a stand-in
    assert reopened.rebuild(LIBRARY) == len(LIBRARY)
    assert not reopened.needs_rebuild()
    assert search(reopened, "pricing").total > 0


def test_a_missing_index_searches_as_empty(tmp_path):
    backend = WhooshBackend(tmp_path / "index")
    assert backend.needs_rebuild()
    result = search(backend, "pricing")
    assert result.total == 0 and result.hits == [] and set(result.facets) == set(FACETS)
    assert backend.suggest("pri", REP) == []


def test_searches_in_threads_while_writing(fresh):
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                result = search(fresh, "pricing integration guide", CHAMPION)
                assert set(slugs_of(result)) <= visible_slugs(CHAMPION) | {"extra-0", "extra-1"}
                search(fresh, "", REP, filters={"stage": ("negotiate",)})
                fresh.suggest("pri", REP)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for n in range(6):
            fresh.index_items(
                [make_item(f"extra-{n % 2}", f"Extra guide {n}", summary="pricing integration")]
            )
            fresh.remove_items([f"extra-{(n + 1) % 2}"])
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
