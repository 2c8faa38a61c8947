"""The search test library, shared by the contract suite and the backend-specific tests.

A small library whose right answers are known (published, internal and unpublished items,
with words that only hidden items hold), the reference rules the answers are checked
against, and a harness per backend that makes new empty backends and holds a writer's
lock from outside. The PostgreSQL fixtures make a scratch database for the session and
drop it after; without a server they skip and say why, unless PORTAL_REQUIRE_POSTGRES is
set (as .ci/run sets it): then they fail. The server is PORTAL_TEST_DATABASE_URL when
set, else postgres@127.0.0.1:5432.
"""

from __future__ import annotations

import os
import re
import secrets
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.engine import make_url

from content_library.records import SearchableItem, Viewer
from search_index import FACETS, SearchQuery
from search_index.postgres_backend import PostgresBackend
from search_index.whoosh_backend import WhooshBackend
from search_index.whoosh_store import IndexStore

NOW = datetime.now(UTC)
REP = Viewer(sees_internal=True)
ADMIN = Viewer(sees_internal=True)
MANAGER = Viewer(sees_internal=True)
CHAMPION = Viewer(sees_internal=False)

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
    return [i for i in LIBRARY
            if i.status == "published" and (viewer.sees_internal or i.audience == "external")]


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


def reach_server() -> psycopg.Connection:
    """An autocommit connection to the test server. Skips, saying why, when it does not
    answer; fails instead under PORTAL_REQUIRE_POSTGRES."""
    server = _server_url()
    try:
        return psycopg.connect(libpq(server), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {server.render_as_string()}: {exc}".splitlines()[0]
        if os.environ.get("PORTAL_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)


@contextmanager
def fresh_database(prefix: str):
    """A new database on the test server, as the app's SQLAlchemy URL (psycopg); dropped
    afterwards even if other processes (gunicorn workers, say) left connections open."""
    admin = reach_server()
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _server_url().set(drivername="postgresql+psycopg", database=name).render_as_string(
                hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def scratch_database():
    """The SQLAlchemy URL of a database made for this session; dropped after it."""
    server = _server_url()
    admin = reach_server()
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


# Both backends, for a test module -------------------------------------------------------

#: The parameters of a fixture that runs a module once per backend.
BACKENDS = ["whoosh", pytest.param("postgres", marks=pytest.mark.postgres)]


def harness_for(request, tmp_path_factory):
    """A harness of the backend a fixture parametrised with BACKENDS asks for."""
    if request.param == "whoosh":
        return WhooshHarness(tmp_path_factory)
    return PostgresHarness(request.getfixturevalue("scratch_dsn"))


def portal_config_for(request, app_config: dict) -> dict:
    """The conftest app as is (Whoosh), or on the scratch PostgreSQL database searching with
    PostgreSQL, as a fixture parametrised with BACKENDS asks."""
    if request.param == "whoosh":
        return app_config
    url = request.getfixturevalue("scratch_database").set(drivername="postgresql+psycopg")
    return {**app_config, "DATABASE_URL": url.render_as_string(hide_password=False),
            "SEARCH_BACKEND": "postgres"}

