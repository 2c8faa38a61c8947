"""The search contract: every backend gives the same answers to the same library.

Each contract test runs against the Whoosh backend (an index in a temporary folder) and
the PostgreSQL backend (tables in a scratch database made for this session and dropped
after it). Without a PostgreSQL server the PostgreSQL runs skip and say why, unless
PORTAL_REQUIRE_POSTGRES is set (as .ci/run sets it): then they fail.

The server is PORTAL_TEST_DATABASE_URL when set, else postgres@127.0.0.1:5432.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from content_library.records import SearchableItem, Viewer
from search_index import FACETS, IndexBusy, SearchQuery, available_backends, create_backend
from search_index.postgres_backend import PostgresBackend
from search_index.whoosh_backend import WhooshBackend
from search_index.whoosh_store import IndexStore
from tests.conftest import log_in

NOW = datetime.now(UTC)
REP = Viewer("rep")
ADMIN = Viewer("admin")
MANAGER = Viewer("manager")
CHAMPION = Viewer("champion")
STRANGER = Viewer("auditor")  # a role search does not know: treated as a champion

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def item(slug: str, title: str, **fields) -> SearchableItem:
    values = {
        "slug": slug,
        "title": title,
        "summary": "",
        "body_text": "",
        "argument_text": "",
        "file_text": "",
        "tag_names": "",
        "type": "guide",
        "audience": "external",
        "status": "published",
        "updated_at": NOW - timedelta(days=30),
        "usage_score": 0.0,
        "fingerprint": f"print-{slug}",
        **fields,
    }
    return SearchableItem(**values)


LIBRARY = [
    item(
        "crm-setup-guide",
        "CRM integration guide",
        summary="Connecting the CRM to the platform, step by step.",
        body_text="Data sync runs every hour. Admins approve the connection.",
        stages=("discover",),
        stakeholders=("it-lead",),
        solutions=("connect",),
        verticals=("finance",),
    ),
    item(
        "price-objections",
        "Handling price objections",
        summary="What to say when a buyer pushes back on price.",
        body_text="Lead with the return on investment, then talk about terms.",
        argument_text="Price is what you pay; value is what you get.",
        stages=("negotiate",),
        stakeholders=("cfo", "procurement"),
        solutions=("analytics",),
        verticals=("retail",),
        type="playbook",
    ),
    item(
        "roi-calculator",
        "ROI calculator",
        summary="Shows the return on investment of the platform.",
        body_text="Enter licence costs and hours saved.",
        stages=("business-case",),
        stakeholders=("cfo",),
        solutions=("analytics",),
        verticals=("finance", "retail"),
        type="tool",
    ),
    item(
        "security-overview",
        "Security overview",
        summary="How we protect customer data.",
        body_text="Single sign-on integration, encryption at rest; investment in audits pays a return "
        "over time.",
        stages=("validation",),
        stakeholders=("ciso", "it-lead"),
        solutions=("connect",),
        verticals=("finance",),
        type="whitepaper",
    ),
    item(
        "retail-story",
        "Retail customer story",
        summary="How a retailer cut onboarding time in half.",
        body_text="The integration took two weeks.",
        stages=("business-case",),
        stakeholders=("cfo",),
        solutions=("connect", "analytics"),
        verticals=("retail",),
        type="case-study",
        updated_at=NOW - timedelta(days=400),
    ),
    item(
        "onboarding-plan",
        "Onboarding plan",
        summary="Everything a new customer needs in week one.",
        body_text="Invite users, set up fields, schedule training.",
        stages=("implementation",),
        stakeholders=("it-lead",),
        solutions=("connect",),
        verticals=(),
        updated_at=NOW - timedelta(days=2),
    ),
    # published, internal: staff only
    item(
        "rival-battlecard",
        "Battlecard against Initech",
        summary="Where we win and lose; zanzibar discount tiers.",
        body_text="Zanzibar ladder. Integration gaps of Initech.",
        stages=("negotiate",),
        stakeholders=("cfo",),
        solutions=("analytics",),
        verticals=("retail",),
        type="battlecard",
        audience="internal",
    ),
    item(
        "floor-prices",
        "Internal price floors",
        summary="Floor prices for the defence sector.",
        body_text="Marmoset approval needed below the floor.",
        stages=("negotiate",),
        stakeholders=("board",),
        solutions=("analytics",),
        verticals=("defence",),
        type="price-list",
        audience="internal",
    ),
    # not published: nobody
    item(
        "launch-draft",
        "Launch plan draft",
        summary="Quokka messaging for the integration release.",
        stages=("discover",),
        stakeholders=("marketing",),
        verticals=("healthcare",),
        type="playbook",
        status="draft",
    ),
    item(
        "old-story",
        "Old wombat story",
        summary="Wombat customer story about integration.",
        stages=("business-case",),
        type="case-study",
        status="archived",
    ),
    item(
        "price-review",
        "Price list under review",
        summary="Capybara price proposal.",
        stages=("negotiate",),
        type="playbook",
        status="in_review",
    ),
]

HIDDEN_WORDS = ("zanzibar", "marmoset", "initech", "quokka", "wombat", "capybara")
UNPUBLISHED_WORDS = ("quokka", "wombat", "capybara")
PAYBACK = (("payback", "return on investment", "ROI"),)


def visible(viewer: Viewer) -> list[SearchableItem]:
    staff = viewer.role in ("admin", "manager", "rep")
    return [i for i in LIBRARY if i.status == "published" and (staff or i.audience == "external")]


def visible_slugs(viewer: Viewer) -> set[str]:
    return {i.slug for i in visible(viewer)}


def reference_facets(items, filters) -> dict[str, dict[str, int]]:
    """The rule: a facet's counts honour every other facet's selection, not its own."""
    counts: dict[str, dict[str, int]] = {}
    for facet in FACETS:
        found: Counter = Counter()
        for entry in items:
            values = entry.facet_values()
            if all(set(values[f]) & set(chosen) for f, chosen in filters.items() if f != facet):
                found.update(values[facet])
        counts[facet] = dict(found)
    return counts


def search(backend, text="", viewer=REP, **options):
    return backend.search(SearchQuery(text=text, **options), viewer)


def slugs(result) -> list[str]:
    return [hit.slug for hit in result.hits]


def everything_said(result) -> str:
    parts = [hit.highlight for hit in result.hits]
    parts += [value for counts in result.facets.values() for value in counts]
    parts.append(result.suggestion or "")
    return " ".join(parts).lower()


_TAGS = re.compile(r"<[^>]*>")


def only_marks(html: str) -> bool:
    return all(tag in ("<mark>", "</mark>") for tag in _TAGS.findall(html))


# The scratch PostgreSQL database ---------------------------------------------------


def _server_url():
    raw = os.environ.get("PORTAL_TEST_DATABASE_URL") or DEFAULT_SERVER
    return make_url(raw).set(drivername="postgresql")


def libpq(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def scratch_database():
    """The SQLAlchemy URL of a database made for this session; dropped after it."""
    server = _server_url()
    try:
        admin = psycopg.connect(libpq(server), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {server.render_as_string()}: {exc}".splitlines()[0]
        if os.environ.get("PORTAL_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"portal_search_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def scratch_dsn(scratch_database) -> str:
    return libpq(scratch_database)


# One harness per backend: new empty backends, and a lock held from outside -----------


class WhooshHarness:
    name = "whoosh"

    def __init__(self, folders):
        self._folders = folders
        self._where: dict[int, object] = {}

    def new(self, writer_timeout: float = 5.0) -> WhooshBackend:
        folder = self._folders.mktemp("index") / "index"
        backend = WhooshBackend(folder, writer_timeout=writer_timeout)
        self._where[id(backend)] = folder
        return backend

    @contextmanager
    def lock_held(self, backend):
        """Another process's writer lock on the index folder."""
        with IndexStore(self._where[id(backend)]).locked():
            yield

    def close(self) -> None:
        pass


class PostgresHarness:
    name = "postgres"

    def __init__(self, dsn: str):
        self.dsn = dsn
        self._made: list[PostgresBackend] = []
        self._tables: dict[int, str] = {}

    def new(self, writer_timeout: float = 5.0) -> PostgresBackend:
        table = f"contract_{secrets.token_hex(4)}"
        backend = PostgresBackend(self.dsn, writer_timeout=writer_timeout, table=table)
        self._made.append(backend)
        self._tables[id(backend)] = table
        return backend

    def table(self, backend) -> str:
        return self._tables[id(backend)]

    @contextmanager
    def lock_held(self, backend):
        """Another transaction's lock on the table: writers must wait, readers need not."""
        with psycopg.connect(self.dsn) as other:
            other.execute(f'LOCK TABLE "{self.table(backend)}" IN SHARE MODE')
            yield other
            other.rollback()

    def close(self) -> None:
        for backend in self._made:
            backend.close()


@pytest.fixture(scope="module", params=["whoosh", pytest.param("postgres", marks=pytest.mark.postgres)])
def harness(request, tmp_path_factory):
    if request.param == "whoosh":
        made = WhooshHarness(tmp_path_factory)
    else:
        made = PostgresHarness(request.getfixturevalue("scratch_dsn"))
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


def test_words_are_all_required(library):
    assert slugs(search(library, "price objections")) == ["price-objections"]
    assert search(library, "calculator encryption").total == 0


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
    assert slugs(search(library, "return on investment calculator", synonyms=PAYBACK)) == ["roi-calculator"]
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


def test_an_item_for_every_vertical_matches_no_vertical_filter(library):
    assert search(library, "onboarding plan").total == 1
    assert search(library, "onboarding plan", filters={"vertical": ("finance",)}).total == 0


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


# Visibility ------------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", [REP, ADMIN, MANAGER, CHAMPION, STRANGER], ids=lambda v: v.role)
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
    assert "initech" not in (search(library, "initek", STRANGER).suggestion or "")
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
        assert search(library, text, REP).total == 0
    assert slugs(search(library, "internal:floors")) == ["floor-prices"]
    assert search(library, "internal:floors", CHAMPION).total == 0


def test_empty_text_browses(library):
    assert search(library, "  ").total == search(library, "").total == len(visible(REP))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(
            st.sampled_from(
                [*HIDDEN_WORDS, "price", "integration", '"', "(", ")", ":", "*", "&", "|", "!", "<->",
                 "'", "audience:internal", "OR", "NOT", "\x00", "🚀", "--", ";"]
            ),
            max_size=30,
        ).map(" ".join),
    ),
    page=st.integers(min_value=-3, max_value=12),
    stage=st.lists(st.sampled_from(["negotiate", "discover", "business-case", "x"]), max_size=3),
)
def test_any_text_never_fails_nor_reveals_hidden_items(library, text, page, stage):
    filters = {"stage": tuple(stage)} if stage else {}
    result = library.search(SearchQuery(text=text, page=page, per_page=5, filters=filters), CHAMPION)
    assert set(slugs(result)) <= visible_slugs(CHAMPION)
    untyped = [word for word in HIDDEN_WORDS if word not in text.lower()]
    assert not any(word in everything_said(result) for word in untyped)
    said = " ".join(library.suggest(text, CHAMPION)).lower()
    assert not any(word in said for word in untyped)


# Keeping the index in step -----------------------------------------------------------------


def test_indexing_again_replaces_by_slug(fresh):
    changed = replace(LIBRARY[0], title="Salesforce connector guide", fingerprint="print-new")
    fresh.index_items([changed, changed])
    assert slugs(search(fresh, "salesforce")) == ["crm-setup-guide"]
    assert search(fresh, "crm integration guide").total == 0
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


# The PostgreSQL backend's own promises -------------------------------------------------------

pg = pytest.mark.postgres


@pytest.fixture
def pg_harness(scratch_dsn):
    made = PostgresHarness(scratch_dsn)
    yield made
    made.close()


def lexicon(dsn: str, table: str) -> dict[tuple[str, str], int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f'SELECT word, audience, docs FROM "{table}_words"').fetchall()
    return {(word, audience): docs for word, audience, docs in rows}


def recounted_lexicon(dsn: str, table: str) -> dict[tuple[str, str], int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f'SELECT word, audience, count(*) FROM "{table}", unnest(words) AS word'
            " WHERE status = 'published' GROUP BY word, audience"
        ).fetchall()
    return {(word, audience): docs for word, audience, docs in rows}


@pg
def test_the_registry_builds_the_postgres_backend(scratch_dsn):
    assert "postgres" in available_backends()
    backend = create_backend("postgres", dsn=scratch_dsn, writer_timeout=1.0, table="registry_check")
    try:
        assert isinstance(backend, PostgresBackend)
        assert backend.needs_rebuild()  # made empty: the caller rebuilds
        assert backend.rebuild(LIBRARY) == len(LIBRARY)
        assert not backend.needs_rebuild()
    finally:
        backend.close()


@pg
@pytest.mark.parametrize("name", ["", "Search", "a-b", "x; DROP TABLE y", "t" * 60, 'q"uote'])
def test_unusable_table_names_are_refused(scratch_dsn, name):
    with pytest.raises(ValueError):
        PostgresBackend(scratch_dsn, table=name)


@pg
def test_a_table_that_is_not_ours_is_never_replaced(scratch_dsn):
    with psycopg.connect(scratch_dsn) as conn:
        conn.execute("CREATE TABLE someone_elses (precious text)")
    with pytest.raises(RuntimeError, match="not part of a search index"):
        PostgresBackend(scratch_dsn, table="someone_elses")
    with psycopg.connect(scratch_dsn) as conn:
        assert conn.execute("SELECT to_regclass('someone_elses') IS NOT NULL").fetchone()[0]


@pg
def test_tables_of_another_schema_version_are_replaced(pg_harness):
    backend = pg_harness.new()
    backend.rebuild(LIBRARY)
    table = pg_harness.table(backend)
    with psycopg.connect(pg_harness.dsn) as conn:
        conn.execute(f"COMMENT ON TABLE \"{table}\" IS 'enablement-portal search index; schema 0; complete'")
    reopened = PostgresBackend(pg_harness.dsn, table=table)
    try:
        assert reopened.needs_rebuild()
        assert reopened.fingerprints() == {}
        reopened.index_items(LIBRARY[:1])
        assert reopened.needs_rebuild()  # still only part of the library
        assert reopened.rebuild(LIBRARY) == len(LIBRARY)
        assert not reopened.needs_rebuild()
        assert search(reopened, "price").total > 0
    finally:
        reopened.close()


@pg
def test_dropped_tables_search_as_empty_and_come_back_on_write(pg_harness):
    backend = pg_harness.new()
    backend.index_items(LIBRARY)
    with psycopg.connect(pg_harness.dsn) as conn:
        table = pg_harness.table(backend)
        conn.execute(f'DROP TABLE "{table}", "{table}_words"')
    assert search(backend, "price").total == 0
    assert backend.suggest("pri", REP) == [] and backend.fingerprints() == {}
    assert backend.needs_rebuild()
    backend.index_items(LIBRARY[:2])
    assert len(backend.fingerprints()) == 2


@pg
def test_the_lexicon_counts_stay_exact_through_every_kind_of_write(pg_harness):
    backend = pg_harness.new()
    table = pg_harness.table(backend)
    backend.index_items(LIBRARY)
    backend.index_items([replace(LIBRARY[1], summary="Brand new wording", audience="internal")])
    backend.index_items([replace(LIBRARY[8], status="published")])
    backend.remove_items(["roi-calculator", "floor-prices"])
    backend.index_items([replace(LIBRARY[8], status="archived")])
    assert lexicon(pg_harness.dsn, table) == recounted_lexicon(pg_harness.dsn, table)
    assert ("wording", "internal") in lexicon(pg_harness.dsn, table)
    assert all(docs > 0 for docs in lexicon(pg_harness.dsn, table).values())


@pg
def test_two_hosts_writing_at_once_lose_no_word(pg_harness):
    first = pg_harness.new()
    table = pg_harness.table(first)
    second = PostgresBackend(pg_harness.dsn, table=table)
    failures: list[BaseException] = []

    def write(backend, offset):
        try:
            for n in range(12):
                slug = f"shared-{(n + offset) % 5}"
                backend.index_items([item(slug, f"Shared {n} pricing", summary=f"common words round {n}")])
                if n % 4 == 3:
                    backend.remove_items([f"shared-{(n + offset + 2) % 5}"])
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    try:
        threads = [threading.Thread(target=write, args=(b, o)) for b, o in ((first, 0), (second, 2))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures[0]
        assert lexicon(pg_harness.dsn, table) == recounted_lexicon(pg_harness.dsn, table)
    finally:
        second.close()


@pg
def test_a_row_lock_held_elsewhere_makes_writers_index_busy(pg_harness):
    backend = pg_harness.new(writer_timeout=0.2)
    backend.index_items(LIBRARY)
    with psycopg.connect(pg_harness.dsn) as other:
        other.execute(
            f"SELECT slug FROM \"{pg_harness.table(backend)}\" WHERE slug = 'roi-calculator' FOR UPDATE"
        )
        started = time.perf_counter()
        with pytest.raises(IndexBusy):
            backend.index_items([replace(LIBRARY[2], title="Changed")])
        with pytest.raises(IndexBusy):
            backend.remove_items(["roi-calculator"])
        assert time.perf_counter() - started < 2.0
        backend.index_items([replace(LIBRARY[0], fingerprint="print-free")])  # other rows are free
        other.rollback()
    backend.remove_items(["roi-calculator"])
    assert "roi-calculator" not in backend.fingerprints()


@pg
def test_a_rebuild_keeps_searches_answering_and_other_writers_waiting(pg_harness):
    backend = pg_harness.new(writer_timeout=0.2)
    backend.index_items(LIBRARY)
    other_host = PostgresBackend(pg_harness.dsn, writer_timeout=0.2, table=pg_harness.table(backend))
    started, release = threading.Event(), threading.Event()

    def slow_items():
        yield LIBRARY[0]
        started.set()
        release.wait(10)
        yield LIBRARY[1]

    rebuilding = threading.Thread(target=backend.rebuild, args=(slow_items(),))
    rebuilding.start()
    try:
        assert started.wait(10)
        assert search(other_host, "").total == len(visible(REP))  # the old documents, meanwhile
        with pytest.raises(IndexBusy):
            other_host.index_items([item("newcomer", "Newcomer")])
    finally:
        release.set()
        rebuilding.join()
        other_host.close()
    assert set(backend.fingerprints()) == {LIBRARY[0].slug, LIBRARY[1].slug}


@pg
def test_text_postgresql_cannot_hold_is_cleaned_not_refused(pg_harness):
    backend = pg_harness.new()
    odd = item(
        "odd-text",
        "Nul\x00byte title",
        summary="lone \ud800 surrogate and pricing",
        body_text="body \x00\x00 text",
        stages=("st\x00age",),
    )
    backend.index_items([odd])
    assert slugs(search(backend, "pricing")) == ["odd-text"]
    assert slugs(search(backend, "surrogate")) == ["odd-text"]


@pg
def test_a_huge_file_text_with_many_distinct_words_is_still_indexed(pg_harness):
    backend = pg_harness.new()
    words = " ".join(f"w{n:06x}" for n in range(120_000))  # far past PostgreSQL's 1 MB vector limit
    backend.index_items([item("huge", "Enormous appendix", file_text="pelican " + words)])
    assert slugs(search(backend, "enormous")) == ["huge"]
    assert slugs(search(backend, "pelican")) == ["huge"]


@pg
def test_a_connection_killed_by_the_server_is_replaced(pg_harness):
    backend = pg_harness.new()
    backend.index_items(LIBRARY)
    assert search(backend, "price").total > 0
    with psycopg.connect(pg_harness.dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'portal-search' AND pid <> pg_backend_pid()"
            " AND datname = current_database()"
        )
    assert search(backend, "price").total > 0
    backend.index_items([replace(LIBRARY[0], fingerprint="print-reconnected")])
    assert backend.fingerprints()["crm-setup-guide"] == "print-reconnected"


@pg
def test_sql_in_what_people_type_stays_text(pg_harness):
    backend = pg_harness.new()
    backend.index_items(LIBRARY)
    table = pg_harness.table(backend)
    for text in (f"'); DROP TABLE {table}; --", f'"; DELETE FROM {table}; --', "' OR '1'='1"):
        search(backend, text, ADMIN)
        backend.suggest(text, ADMIN)
        search(backend, "", ADMIN, filters={"stage": (f"x'); DROP TABLE {table}; --",)})
    assert len(backend.fingerprints()) == len(LIBRARY)


# The portal on the PostgreSQL backend, end to end -------------------------------------------


@pytest.fixture
def app_config(app_config, scratch_database):
    """The conftest app, on the scratch PostgreSQL database, searching with PostgreSQL."""
    url = scratch_database.set(drivername="postgresql+psycopg")
    return {**app_config, "DATABASE_URL": url.render_as_string(hide_password=False),
            "SEARCH_BACKEND": "postgres"}


@pytest.fixture
def postgres_app(app):
    yield app
    found = app.extensions.get("search")
    if found is not None:
        found.close()


@pg
def test_an_item_saved_in_the_portal_is_found_through_the_api(postgres_app, make_user, make_item, login):
    from portal.indexing import backend

    make_item("crm-setup", title="CRM integration guide", summary="Connecting the CRM, step by step.")
    make_item("internal-tiers", title="Discount tiers", summary="Integration discounts for partners.",
              audience="internal")
    make_item("draft-plan", title="Integration launch", status="draft")
    with postgres_app.app_context():
        assert isinstance(backend(), PostgresBackend)
        assert set(backend().fingerprints()) == {"crm-setup", "internal-tiers", "draft-plan"}

    _, rep = make_user("rep")
    client = login(rep)
    answer = client.get("/api/v1/search?q=integrating&per_page=5").get_json()
    assert [r["slug"] for r in answer["results"]] == ["crm-setup", "internal-tiers"]
    assert answer["total"] == 2
    assert "<mark>integration</mark>" in answer["results"][0]["highlight"]
    assert answer["facets"]["type"] == {"case-study": 2}
    assert client.get("/api/v1/search?q=integraton").get_json()["suggestion"] == "integration"

    _, champion = make_user("champion")
    client = postgres_app.test_client()
    assert log_in(client, champion).status_code == 302
    answer = client.get("/api/v1/search?q=integration").get_json()
    assert [r["slug"] for r in answer["results"]] == ["crm-setup"]
    assert answer["total"] == 1 and answer["facets"]["type"] == {"case-study": 1}
    browse = client.get("/api/v1/search?q=&stage=understanding-offerings").get_json()
    assert [r["slug"] for r in browse["results"]] == ["crm-setup"]


def test_the_postgres_backend_on_another_database_fails_at_start(tmp_path):
    from portal import create_app

    config = {"TESTING": True, "SECRET_KEY": "k" * 40, "SEARCH_BACKEND": "postgres",
              "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}", "INDEX_DIR": str(tmp_path / "ix")}
    with pytest.raises(RuntimeError, match="needs a PostgreSQL database") as failure:
        create_app(config)
    assert "\n" not in str(failure.value)
