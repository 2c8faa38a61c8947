"""What only one search backend promises: its files, its tables, its locks.

Everything both backends promise is the contract suite (tests/test_search_contract.py);
the tests here use the same library (tests/search_library.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from whoosh import index as whoosh_index

from search_index import FACETS, IndexBusy, available_backends, create_backend, register_backend
from search_index.postgres_backend import PostgresBackend
from search_index.query_text import FIELD_BOOSTS, build_query, parse, plan
from search_index.whoosh_backend import WhooshBackend
from tests.champion_support import share
from tests.conftest import log_in
from tests.search_library import (
    ADMIN,
    LIBRARY,
    REP,
    PostgresHarness,
    item,
    search,
    slugs,
    visible,
    visible_slugs,
)

# The Whoosh backend's own promises ----------------------------------------------------------


def test_the_registry_builds_the_whoosh_backend_and_takes_new_ones(tmp_path):
    assert "whoosh" in available_backends()
    backend = create_backend("whoosh", index_dir=tmp_path / "ix")
    assert isinstance(backend, WhooshBackend)
    with pytest.raises(ValueError, match="unknown search backend"):
        create_backend("elastic")
    register_backend("memory-test", lambda **options: backend)
    assert create_backend("memory-test") is backend


def test_field_syntax_reaches_only_the_text_fields():
    query = build_query(plan(parse("title:x^100 audience:internal status:draft")))
    assert {field for field, _ in query.iter_all_terms()} <= set(FIELD_BOOSTS)


def test_whoosh_phrases_skip_stop_words(tmp_path):
    # documented in docs/search.md: PostgreSQL counts a stop word as a position, Whoosh does not
    backend = WhooshBackend(tmp_path / "ix")
    backend.index_items(
        [
            item("with-of", "One", body_text="Talk about the total cost of ownership early."),
            item("without", "Two", tag_names="Total cost ownership"),
        ]
    )
    assert set(slugs(search(backend, '"cost of ownership"'))) == {"with-of", "without"}
    assert set(slugs(search(backend, '"total cost ownership"'))) == {"with-of", "without"}


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
            backend.index_items([item(f"extra-{n}", f"Extra {n}", body_text="some body text " * n)])
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


@pytest.fixture
def whoosh_library(tmp_path) -> WhooshBackend:
    backend = WhooshBackend(tmp_path / "index", writer_timeout=1.0)
    backend.index_items(LIBRARY)
    return backend


def test_readers_are_reused_until_a_write(whoosh_library):
    search(whoosh_library, "price")
    with whoosh_library._readers.lend(*whoosh_library._store.current()) as first:
        pass
    with whoosh_library._readers.lend(*whoosh_library._store.current()) as again:
        assert again is first
    whoosh_library.index_items([item("brand-new", "Brand new price list")])
    with whoosh_library._readers.lend(*whoosh_library._store.current()) as after:
        assert after is not first
    assert "brand-new" in slugs(search(whoosh_library, "price"))


def generation_folders(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_dir()}


def test_rebuild_swaps_in_a_new_folder(tmp_path):
    folder = tmp_path / "index"
    backend = WhooshBackend(folder)
    backend.index_items(LIBRARY)
    other_process = WhooshBackend(folder)
    assert search(other_process, "price").total > 0
    (old,) = generation_folders(folder)

    keep = [i for i in LIBRARY if i.type == "guide"]
    assert backend.rebuild(iter(keep + keep)) == len(keep)

    live = (folder / "CURRENT").read_text().strip()
    assert live != old and generation_folders(folder) == {old, live}
    assert (folder / old / "RETIRED_AT").exists()  # kept a while for readers in flight
    assert search(other_process, "price").total == 0
    assert search(other_process, "").total == len(keep)


def test_retired_folders_and_segments_are_deleted_after_the_grace_period(tmp_path):
    folder = tmp_path / "index"
    backend = WhooshBackend(folder, retire_after=0)
    backend.rebuild(LIBRARY)
    backend.rebuild(LIBRARY[:3])
    live = (folder / "CURRENT").read_text().strip()
    assert generation_folders(folder) == {live}
    for n in range(12):  # enough small commits for Whoosh to merge segments
        backend.index_items([item(f"extra-{n}", f"Extra {n}")])
    segments = {p.name.split(".")[0] for p in (folder / live).iterdir() if p.suffix == ".trm"}
    assert len(segments) < 13
    assert search(backend, "").total == 3 + 12


def test_a_failed_rebuild_leaves_no_folder_behind(whoosh_library, tmp_path):
    def broken():
        yield LIBRARY[0]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        whoosh_library.rebuild(broken())
    assert len(generation_folders(tmp_path / "index")) == 1


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
    assert search(reopened, "price").total > 0


def test_a_missing_index_searches_as_empty(tmp_path):
    backend = WhooshBackend(tmp_path / "index")
    assert backend.needs_rebuild()
    result = search(backend, "price")
    assert result.total == 0 and result.hits == [] and set(result.facets) == set(FACETS)
    assert backend.suggest("pri", REP) == []


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
def test_tables_of_schema_1_are_upgraded_in_place_and_keep_every_document(pg_harness):
    backend = pg_harness.new()
    backend.rebuild(LIBRARY)
    table = pg_harness.table(backend)
    with psycopg.connect(pg_harness.dsn) as conn:  # schema 1: no generation, wide rows
        conn.execute(f'DROP TABLE "{table}_state"')
        conn.execute(f'ALTER TABLE "{table}" RESET (toast_tuple_target), ALTER words SET STORAGE EXTENDED')
        for name in (table, f"{table}_words"):
            mark = "enablement-portal search index; schema 1; complete"
            conn.execute(f"COMMENT ON TABLE \"{name}\" IS '{mark}'")
    reopened = PostgresBackend(pg_harness.dsn, table=table)
    try:
        assert not reopened.needs_rebuild()
        assert reopened.fingerprints() == backend.fingerprints() and search(reopened, "price").total > 0
        browsed = search(reopened, "")
        reopened.index_items([item("after-upgrade", "Written after the upgrade")])
        assert search(reopened, "").total == browsed.total + 1  # writes raise the generation
        with psycopg.connect(pg_harness.dsn) as conn:
            options = conn.execute(
                "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()[0]
        assert "toast_tuple_target=512" in options
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
def test_postgres_phrases_count_stop_words_as_positions(pg_harness):
    # documented in docs/search.md: Whoosh's phrases skip stop words, PostgreSQL's do not
    backend = pg_harness.new()
    backend.index_items(
        [
            item("with-of", "One", body_text="Talk about the total cost of ownership early."),
            item("without", "Two", tag_names="Total cost ownership"),
        ]
    )
    assert slugs(search(backend, '"cost of ownership"')) == ["with-of"]
    assert slugs(search(backend, '"total cost ownership"')) == ["without"]


@pg
def test_browsing_answers_kept_by_one_host_change_with_every_write_of_another(pg_harness):
    here = pg_harness.new()
    there = PostgresBackend(pg_harness.dsn, table=pg_harness.table(here))  # another host
    try:
        here.index_items(LIBRARY)
        cfo = {"stakeholder": ("cfo",)}
        before, before_cfo = search(here, ""), search(here, "", filters=cfo)
        kept = search(here, "")
        assert kept == before
        kept.facets["stage"].clear()
        kept.hits.clear()  # what a caller does to an answer never reaches the kept one
        assert search(here, "") == before == search(there, "")

        new = item("new-cfo-brief", "Brief for the CFO", stakeholders=("cfo",), stages=("negotiate",))
        there.index_items([new])
        after = search(here, "", filters=cfo)
        assert after.total == before_cfo.total + 1
        assert "new-cfo-brief" in slugs(search(here, "", per_page=100))
        assert after.facets["stage"]["negotiate"] == before_cfo.facets["stage"].get("negotiate", 0) + 1
        there.index_items([replace(new, status="archived")])
        assert search(here, "", filters=cfo).total == before_cfo.total
        there.index_items([new])
        there.remove_items(["new-cfo-brief"])
        assert search(here, "", filters=cfo) == before_cfo
        there.rebuild(LIBRARY[:2])
        assert search(here, "").total == len([i for i in LIBRARY[:2] if i.slug in visible_slugs(REP)])
    finally:
        there.close()


@pg
def test_the_lexicon_words_live_out_of_the_row_and_the_facets_in_it(pg_harness):
    # counting reads the row of every match: a kilobyte of lexicon words in it made the
    # table four times larger than it need be
    backend = pg_harness.new()
    table = pg_harness.table(backend)
    with psycopg.connect(pg_harness.dsn) as conn:
        options = conn.execute(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()[0]
        storage = dict(conn.execute(
            "SELECT attname, attstorage FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
            (table,)).fetchall())
    assert "toast_tuple_target=512" in options
    assert storage["words"] == "e" and {storage[f] for f in FACETS} == {"m"}


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
    # A champion searches only what was shared with them: an internal or draft item on
    # their link stays hidden all the same.
    share(postgres_app, ["crm-setup", "internal-tiers", "draft-plan"], by=rep, to=champion)
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


def segment_sizes(backend: WhooshBackend) -> list[int]:
    with backend._store.current()[1].reader() as reader:
        return sorted(leaf.doc_count() for leaf, _ in reader.leaf_readers())


def test_segments_of_similar_size_are_merged_and_no_merge_grows_past_the_bound(tmp_path, monkeypatch):
    """A bulk import writes a segment per commit: every MERGE_FACTOR segments of one size
    tier become one, and no commit merges more than MAX_MERGED items (a big merge would
    hold the writer's lock for long). Whoosh's own policy merged ever larger segments."""
    from search_index import whoosh_store

    monkeypatch.setattr(whoosh_store, "MERGE_FACTOR", 3)
    monkeypatch.setattr(whoosh_store, "MAX_MERGED", 40)
    backend = WhooshBackend(tmp_path / "index")
    for batch in range(30):
        backend.index_items([item(f"bulk-{batch}-{n}", f"Bulk item {batch} {n}", body_text=f"batch{batch}")
                             for n in range(5)])
        if batch % 7 == 6:  # an edit deletes the item's old copy in an older segment
            backend.index_items([item("bulk-0-0", f"Edited revision{batch}")])
    sizes = segment_sizes(backend)
    assert sum(sizes) == 150
    assert len(sizes) <= 12, sizes
    assert max(sizes) <= 40 + 5, sizes
    assert slugs(search(backend, "revision27")) == ["bulk-0-0"]
    assert search(backend, "revision6").total == 0  # the deleted copies stay deleted
    assert search(backend, "batch17").total == 5 and search(backend, "").total == 150


def test_a_rebuilds_segments_are_not_merged_by_the_next_edit(tmp_path, monkeypatch):
    """A rebuild writes segments of REBUILD_SEGMENT (3,000) items: ten of them are more
    than one commit may merge, so a one-item edit after it stays quick."""
    from search_index import whoosh_backend, whoosh_store

    monkeypatch.setattr(whoosh_backend, "REBUILD_SEGMENT", 5)
    monkeypatch.setattr(whoosh_store, "MAX_MERGED", 20)
    backend = WhooshBackend(tmp_path / "index")
    backend.rebuild(LIBRARY + [item(f"more-{n}", f"More {n}") for n in range(60)])
    before = segment_sizes(backend)
    backend.index_items([item("one-edit", "One edit")])
    assert segment_sizes(backend) == sorted(before + [1])


def test_long_postings_read_a_block_at_a_time_are_whooshs_own(tmp_path):
    """Postings are read a block at a time, deleted documents included (each search
    leaves them out): what is left must be what Whoosh's matcher gives a posting at a
    time, over several blocks and a segment with deletions."""
    from search_index.whoosh_snapshot import read_postings

    backend = WhooshBackend(tmp_path / "index")
    backend.index_items([item(f"long-{n}", f"Long list {n}", body_text="renewal " * (1 + n % 3) + "plan")
                         for n in range(700)])  # Whoosh writes blocks of up to 128 postings
    backend.index_items([item(f"long-{n}", f"Long list {n}", body_text="edited away")
                         for n in range(0, 700, 9)])
    with backend._store.current()[1].reader() as reader:
        leaves = [leaf for leaf, _ in reader.leaf_readers()]
        assert any(leaf.has_deletions() for leaf in leaves)
        for leaf in leaves:
            terms = [("body", b"renewal"), ("body", b"plan"), ("title", b"list"), ("body", b"edit")]
            for field, term in terms:
                if (field, term) not in leaf:
                    continue
                read = read_postings(leaf, field, term)
                deleted = leaf.deleted_docs_set
                kept = [(d, w) for d, w in zip(read.ids, read.weights, strict=True) if d not in deleted]
                matcher = leaf.postings(field, term)
                expected = []
                while matcher.is_active():
                    expected.append((matcher.id(), matcher.weight()))
                    matcher.next()
                assert kept == expected, (field, term)
    assert search(backend, "renewal").total == 700 - 78
    assert search(backend, '"renewal plan"').total == 700 - 78
    assert search(backend, '"edited away"').total == 78


def test_after_an_edit_only_the_new_segment_is_read_again_and_old_copies_stay_hidden(tmp_path, monkeypatch):
    """Postings and phrases are kept per segment: an edit writes one small segment, and
    the next search reads only that one. The edited item's old copy is still in the kept
    postings of its old segment and must not come back."""
    from search_index import whoosh_snapshot

    backend = WhooshBackend(tmp_path / "index")
    for batch in range(3):
        backend.index_items([item(f"kept-{batch}-{n}", f"Pricing sheet {batch} {n}",
                                  body_text="discount ladder for the renewal")
                             for n in range(40)])
    assert search(backend, "renewal discount").total == 120
    assert search(backend, '"discount ladder"').total == 120

    segments_read = []
    read_postings, read_pairs = whoosh_snapshot.read_postings, whoosh_snapshot.read_pairs

    def counting_postings(leaf, field, term):
        segments_read.append(leaf.segment().segid)
        return read_postings(leaf, field, term)

    def counting_pairs(leaf, term, follower):
        segments_read.append(leaf.segment().segid)
        return read_pairs(leaf, term, follower)

    monkeypatch.setattr(whoosh_snapshot, "read_postings", counting_postings)
    monkeypatch.setattr(whoosh_snapshot, "read_pairs", counting_pairs)
    backend.index_items([item("kept-1-7", "Pricing sheet edited", body_text="no longer about that")])
    result = search(backend, "renewal discount")
    assert result.total == 119 and "kept-1-7" not in slugs(search(backend, "renewal discount", per_page=120))
    assert search(backend, '"discount ladder"').total == 119
    assert segments_read, "the new segment was never read"
    assert len(set(segments_read)) == 1, "segments untouched by the edit were read again"


def test_text_postings_carry_no_followers_and_phrases_read_their_own_field(tmp_path):
    """Schema 3: ranking reads the text fields' postings, which hold no value (decoding the
    followers kept there was most of a first search at 100,000 items); a phrase reads the
    followers field, where each term lists what follows it in any one text."""
    from search_index.whoosh_schema import FOLLOWERS, TEXT_FIELDS

    backend = WhooshBackend(tmp_path / "index")
    backend.index_items([item("tco", "Total cost", summary="ownership first",
                              body_text="The total cost, then the total price.")])
    with backend._store.current()[1].reader() as reader:
        holding = [field for field in TEXT_FIELDS if (field, b"total") in reader]
        assert holding == ["title", "body"]
        for field in holding:
            assert reader.postings(field, b"total").value() in (None, b"")
        assert reader.postings(FOLLOWERS, b"total").value() == b" cost price "
        assert reader.postings(FOLLOWERS, b"ownership").value() == b" first "
    assert slugs(search(backend, '"total cost"')) == ["tco"]
    assert search(backend, '"cost ownership"').total == 0  # the title's end, the summary's start


def test_field_lengths_and_usage_read_whole_are_what_whoosh_gives_a_document_at_a_time(tmp_path):
    """Ranking's per-document tables are read a column at a time (a first search at
    100,000 items spent seconds asking Whoosh a document at a time): every length and
    usage score must be Whoosh's own, trailing documents without a value included."""
    from search_index.whoosh_snapshot import SegmentFacts

    backend = WhooshBackend(tmp_path / "index")
    backend.index_items([item(f"sized-{n}", f"Sized {n}", body_text="renewal pricing " * (n % 40),
                              usage_score=(n % 7) / 7 if n < 250 else 0.0)
                         for n in range(300)])
    backend.index_items([item("sized-3", "Sized again", body_text="short")])
    with backend._store.current()[1].reader() as reader:
        for leaf, _ in reader.leaf_readers():
            facts = SegmentFacts(leaf)
            for field in ("title", "body", "file_text"):
                expected = [leaf.doc_field_length(d, field, 0) or 0 for d in range(leaf.doc_count_all())]
                assert list(facts.lengths(leaf, field)) == expected, field
            stored = [float(value) for value in leaf.column_reader("usage_score")]
            assert list(facts.usage(leaf)) == stored
    with backend._store.current()[1].reader() as reader:
        first = SegmentFacts(reader.leaf_readers()[0][0])
        assert list(first.usage(reader.leaf_readers()[0][0]))[:8] == pytest.approx(
            [0, 1 / 7, 2 / 7, 3 / 7, 4 / 7, 5 / 7, 6 / 7, 0], abs=1e-6)
        assert max(first.lengths(reader.leaf_readers()[0][0], "body")) >= 70
