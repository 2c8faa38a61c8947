"""`portal backup` and `portal restore`: one archive of the database and the stored files;
restored into an empty instance it gives the same `library export` and the same files, on
SQLite and on PostgreSQL, also when the backup was taken while someone kept saving. Bad
input exits non-zero with one line and changes nothing."""

from __future__ import annotations

import gzip
import io
import json
import secrets
import tarfile
import threading
import time
from pathlib import Path

import pytest
from flask_migrate import stamp, upgrade
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from content_library.models import ContentItem, StoredFile, UsageEvent, User
from content_library.services import backup as backup_service
from content_library.services import items as item_service
from content_library.services import usage
from content_library.services import users as user_service
from content_library.services.files import store_file, stored_path
from portal import create_app
from portal.extensions import db
from portal.health import code_revision, migrations_folder
from portal.indexing import backend, rebuild_index
from tests.conftest import PASSWORD, log_in
from tests.test_serving import merge_taxonomy
from tests.test_visibility import pdf_bytes


@pytest.fixture
def new_database(tmp_path, database_server):
    """name -> the URL of a database of its own: a file for SQLite, or a fresh PostgreSQL
    database (dropped afterwards)."""
    made: list[str] = []
    admin = create_engine(database_server, isolation_level="AUTOCOMMIT") if database_server else None

    def make(name: str) -> str:
        if admin is None:
            return f"sqlite:///{tmp_path / f'{name}.db'}"
        database = f"portal_{name}_{secrets.token_hex(4)}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        made.append(database)
        return make_url(database_server).set(database=database).render_as_string(hide_password=False)

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for database in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


class Instance:
    """One portal: its app, its folders, and the commands run against it."""

    def __init__(self, app_config: dict, url: str, folder: Path) -> None:
        self.folder = folder
        self.upload_dir = folder / "files"
        self.app = create_app({**app_config, "DATABASE_URL": url,
                               "INDEX_DIR": str(folder / "index"), "UPLOAD_DIR": str(self.upload_dir)})

    def run(self, *args: str):
        return self.app.test_cli_runner().invoke(args=list(args))

    def migrate(self) -> None:
        with self.app.app_context():
            upgrade()

    def export(self, into: Path) -> tuple[str, dict[str, bytes]]:
        result = self.run("library", "export", str(into / "library.yaml"))
        assert result.exit_code == 0, result.output
        files = {str(p.relative_to(into)): p.read_bytes() for p in sorted(into.rglob("*")) if p.is_file()}
        return (into / "library.yaml").read_text(), files

    def stored(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self.upload_dir.glob("??/*")}

    def count(self, model) -> int:
        with self.app.app_context():
            return db.session.scalar(select(func.count()).select_from(model))

    def close(self) -> None:
        with self.app.app_context():
            db.session.close()
        db.engine_of(self.app).dispose()
        self.app.extensions["usage"].engine.dispose()
        search = self.app.extensions.pop("search", None)
        if hasattr(search, "close"):
            search.close()


@pytest.fixture
def instances(app_config, new_database, tmp_path):
    made: list[Instance] = []

    def make(name: str, *, migrated: bool = True) -> Instance:
        instance = Instance(app_config, new_database(name), tmp_path / name)
        if migrated:
            instance.migrate()
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.close()


def save(app, slug: str, *, with_file: bool = True, **fields) -> None:
    with app.app_context():
        attached = (store_file(db.session, Path(app.config["UPLOAD_DIR"]), io.BytesIO(pdf_bytes(slug)),
                               f"{slug}.pdf") if with_file else item_service.KEEP_FILE)
        values = {"title": slug.replace("-", " ").title(), "type": "case-study",
                  "audience": "external", "status": "published",
                  "stages": ("understanding-offerings",), **fields}
        existing = db.session.scalar(select(ContentItem).where(ContentItem.slug == slug))
        item_service.save_item(db.session, item_service.ItemInput(slug=slug, **values), None,
                               file=attached, existing=existing)


def fill(instance: Instance) -> None:
    """A small library: tags, items with and without files, a person, a usage event."""
    app = instance.app
    with app.app_context():
        merge_taxonomy(db.session)
    save(app, "roi-story", summary="What the CFO saved", body="Payback in **nine** months.")
    save(app, "rival-card", audience="internal", type="battle-card", status="draft")
    save(app, "discovery-call", with_file=False, type="sales-argument",
         argument={"value_statement": "Forecasts you can trust",
                   "business_problems": ["Missed quarters", "Late surprises"]})
    save(app, "roi-story", with_file=False, summary="What the CFO saved, in a year")  # version 2
    with app.app_context():
        person = user_service.create_user(db.session, user_service.NewUser(
            email="rep@example.com", name="Rep", role="rep", password=PASSWORD))
        item = db.session.scalar(select(ContentItem).where(ContentItem.slug == "roi-story"))
        usage.write(app.extensions["usage"].engine, [usage.event("view", item=item, user=person)])
    assert instance.run("index", "rebuild").exit_code == 0


def test_backup_then_restore_gives_the_same_library_and_files(instances, tmp_path):
    source = instances("source")
    fill(source)
    archive = tmp_path / "portal.tar.gz"
    result = source.run("backup", str(archive))
    assert result.exit_code == 0, result.output
    head = ",".join(code_revision(source.app))
    assert archive.stat().st_mode & 0o777 == 0o600  # it holds the whole database
    kind = backup_service.database_kind(source.app.config["DATABASE_URL"])
    assert result.output.strip() == f"backed up the {kind} database at revision {head}, 2 files to {archive}"

    target = instances("target", migrated=False)  # a database never used
    result = target.run("restore", str(archive))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "search index rebuilt: 3 items"

    assert target.export(tmp_path / "after") == source.export(tmp_path / "before")
    assert target.stored() == source.stored() and len(source.stored()) == 2
    for model in (User, UsageEvent, StoredFile):
        assert target.count(model) == source.count(model), model
    # The restored portal works: ready, healthy, searchable, and its people can sign in.
    client = target.app.test_client()
    assert client.get("/readyz").get_json()["status"] == "ok"
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok", "index": "ok"}
    with target.app.app_context():
        assert set(backend(target.app).fingerprints()) == {"roi-story", "rival-card", "discovery-call"}
    assert log_in(client, "rep@example.com").status_code == 302


def test_restore_refuses_a_portal_that_is_not_empty_unless_forced(instances, tmp_path):
    source = instances("source")
    fill(source)
    archive = tmp_path / "portal.tar.gz"
    assert source.run("backup", str(archive)).exit_code == 0
    target = instances("target")
    with target.app.app_context():
        merge_taxonomy(db.session)
    save(target.app, "their-own")
    before = target.export(tmp_path / "untouched")
    result = target.run("restore", str(archive))
    assert result.exit_code != 0
    [line] = result.output.strip().splitlines()
    assert "not empty" in line and "--force" in line
    assert target.export(tmp_path / "still-untouched") == before
    # Stored files alone make a portal not empty too.
    fresh = instances("fresh")
    (fresh.upload_dir / "ab").mkdir(parents=True)
    (fresh.upload_dir / "ab" / ("ab" + "0" * 62)).write_bytes(b"x")
    assert "files folder" in fresh.run("restore", str(archive)).output

    result = target.run("restore", "--force", str(archive))
    assert result.exit_code == 0, result.output
    assert target.export(tmp_path / "replaced") == source.export(tmp_path / "source-export")
    assert target.stored() == source.stored()


def rewrite(archive: Path, into: Path, change) -> Path:
    """A copy of the archive with each member passed through change(name, data) -> data|None."""
    with tarfile.open(archive, "r:gz") as old, tarfile.open(into, "w:gz") as new:
        for member in old.getmembers():
            data = change(member.name, old.extractfile(member).read())
            if data is None:
                continue
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
    return into


def with_extra(archive: Path, into: Path, name: str) -> Path:
    rewrite(archive, into, lambda _name, data: data)
    with tarfile.open(into, "r:gz") as old:
        members = [(m, old.extractfile(m).read()) for m in old.getmembers()]
    with tarfile.open(into, "w:gz") as new:
        for member, data in members:
            new.addfile(member, io.BytesIO(data))
        extra = tarfile.TarInfo(name)
        extra.size = 2
        new.addfile(extra, io.BytesIO(b"hi"))
    return into


def test_bad_archives_change_nothing(instances, tmp_path):
    source = instances("source")
    fill(source)
    archive = tmp_path / "portal.tar.gz"
    assert source.run("backup", str(archive)).exit_code == 0

    def damaged(name, data):
        return data[:-1] + bytes([data[-1] ^ 1]) if name.startswith("files/") else data

    def manifest(**changes):
        def change(name, data):
            return json.dumps({**json.loads(data), **changes}).encode() if name == "backup.json" else data
        return change

    not_gzip = tmp_path / "plain.tar.gz"
    not_gzip.write_text("hello")
    empty_gzip = tmp_path / "empty.tar.gz"
    empty_gzip.write_bytes(gzip.compress(b""))
    other_kind = "postgresql" if backup_service.database_kind(
        source.app.config["DATABASE_URL"]) == "sqlite" else "sqlite"
    cases = {
        "missing": (tmp_path / "nothing.tar.gz", "no such file"),
        "not gzip": (not_gzip, "not a readable portal backup"),
        "empty": (empty_gzip, "not a readable portal backup"),
        "other tar": (rewrite(archive, tmp_path / "other.tar.gz",
                              lambda name, data: None if name == "backup.json" else data),
                      "not a portal backup"),
        "damaged": (rewrite(archive, tmp_path / "damaged.tar.gz", damaged), "damaged"),
        "cut short": (rewrite(archive, tmp_path / "short.tar.gz",
                              lambda name, data: None if name.startswith("files/") else data),
                      "its manifest says 2"),
        "stranger": (with_extra(archive, tmp_path / "stranger.tar.gz", "../escape.txt"),
                     "unexpected entry '../escape.txt'"),
        "newer code": (rewrite(archive, tmp_path / "newer.tar.gz", manifest(revision=["ffff0000ffff"])),
                       "does not know"),
        "other database": (rewrite(archive, tmp_path / "kind.tar.gz", manifest(database=other_kind)),
                           f"holds a {other_kind} database"),
    }
    target = instances("target", migrated=False)
    for label, (path, expected) in cases.items():
        result = target.run("restore", str(path))
        assert result.exit_code != 0, label
        [line] = result.output.strip().splitlines()
        assert expected in line, (label, line)
    # Nothing was made: no tables, no files, no staging folders left behind.
    with target.app.app_context(), db.engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    assert not target.upload_dir.exists() or target.stored() == {}
    assert [p.name for p in target.folder.iterdir() if p.name.startswith(".portal-")] == []


def test_backup_refuses_bad_names_and_writes_nothing(instances, tmp_path):
    source = instances("source")
    for path, expected in ((tmp_path / "portal.zip", ".tar.gz"),
                           (tmp_path / "no-such-folder" / "portal.tar.gz", "does not exist")):
        result = source.run("backup", str(path))
        assert result.exit_code != 0
        [line] = result.output.strip().splitlines()
        assert expected in line
        assert not path.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_backup_from_an_older_migration_asks_for_an_upgrade(instances, tmp_path):
    from alembic.script import ScriptDirectory

    source = instances("source")
    fill(source)
    head = ",".join(code_revision(source.app))
    older = ScriptDirectory(str(migrations_folder(source.app))).get_revision(head).down_revision
    with source.app.app_context():
        stamp(revision=older)  # as if made by the version before this one
    archive = tmp_path / "old.tar.gz"
    assert source.run("backup", str(archive)).exit_code == 0
    target = instances("target", migrated=False)
    result = target.run("restore", str(archive))
    assert result.exit_code == 0, result.output
    assert "portal db upgrade" in result.output and "rebuilt" not in result.output
    assert target.app.test_client().get("/readyz").get_json()["database_revision"] == older


def test_a_backup_taken_while_someone_keeps_saving_restores_whole(instances, tmp_path):
    source = instances("source")
    fill(source)
    saved: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer():
        try:
            n = 0
            while not stop.is_set():
                n += 1
                save(source.app, f"busy-{n}")
                saved.append(f"busy-{n}")
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(saved) < 3:
            time.sleep(0.01)
        during: list[int] = []

        def slowly(step, done, total):
            # The files are copied a little slowly, so saves keep landing meanwhile.
            during.append(len(saved))
            time.sleep(0.05)

        started = len(saved)
        manifest = backup_service.backup(source.app.config["DATABASE_URL"], source.upload_dir,
                                         tmp_path / "busy.tar.gz", progress=slowly)
        finished = len(saved)
    finally:
        stop.set()
        thread.join(30)
    assert not failures, failures
    assert finished > started, "no save landed while the backup ran"
    assert manifest.missing == []

    target = instances("target", migrated=False)
    result = target.run("restore", str(tmp_path / "busy.tar.gz"))
    assert result.exit_code == 0, result.output
    items = target.count(ContentItem)
    assert 3 + started <= items <= 3 + finished
    # Every file the restored database names is there, with the right bytes; the export,
    # which copies each item's file, works.
    with target.app.app_context():
        for sha in db.session.scalars(select(StoredFile.sha256)):
            assert stored_path(target.upload_dir, sha).is_file(), sha
        with db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert target.export(tmp_path / "restored")[0].count("slug: busy-") == items - 3
    with target.app.app_context():
        assert rebuild_index(target.app) == items
